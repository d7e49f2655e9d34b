"""metrics.serve: the consumer's own endpoint, which compose scrapes in the container holding the GPU."""

import urllib.request

from ai_server import metrics


def test_serve_publishes_the_consumers_metrics():
    metrics.CONSUMER_CONNECTED.set(1)
    server = metrics.serve(0)  # any free port
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics", timeout=5) as response:
            body = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
        metrics.CONSUMER_CONNECTED.set(0)
    assert "ai_server_consumer_connected 1.0" in body
