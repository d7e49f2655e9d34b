import pytest

from ai_server.app import create_app


@pytest.fixture
def client():
    return create_app().test_client()


def test_health(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "service": "cdss-ai-server"}


def test_metrics_count_requests(client):
    client.get("/health")
    client.get("/nowhere")
    body = client.get("/metrics").get_data(as_text=True)
    assert 'ai_server_http_requests_total{endpoint="/health",status="200"}' in body
    assert 'ai_server_http_requests_total{endpoint="unmatched",status="404"}' in body
