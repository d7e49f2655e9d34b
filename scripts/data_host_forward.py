"""The data host's front door when it runs as this machine's root network namespace (scripts/netns.sh).

MariaDB, Redis and RabbitMQ of the machine, Orthanc and the stand-ins listen on loopback only (and stay
there: docs/security.md, "Listening sockets"). The other hosts reach them on the bridge address: for each
port given, this process accepts there and relays every connection to the same port on 127.0.0.1.

    python scripts/data_host_forward.py ADDRESS PORT...

A host cut off the network must not keep its sessions open through the relay, holding row locks in
MariaDB or unacknowledged messages in RabbitMQ: the host-side sockets carry TCP keepalive and a user
timeout of a few seconds (as a data host's own kernel would be configured), and when either side of a
relayed connection ends, the other is closed too, so the server behind sees its client gone.
"""

import asyncio
import contextlib
import logging
import signal
import socket
import sys

# Seconds: a silent peer is probed after IDLE, every INTERVAL, given up after COUNT probes; unacknowledged
# data is given up after USER_TIMEOUT.
IDLE, INTERVAL, COUNT, USER_TIMEOUT = 2, 1, 3, 5
CHUNK = 64 * 1024

logger = logging.getLogger("data_host_forward")


def watch_peer(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, IDLE)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, INTERVAL)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, COUNT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, USER_TIMEOUT * 1000)


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()


async def relay(port: int, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
    watch_peer(client_writer.get_extra_info("socket"))
    peer = client_writer.get_extra_info("peername")
    try:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as exc:
        logger.warning("%s -> 127.0.0.1:%d refused: %s", peer, port, exc)
        client_writer.close()
        return
    # Either direction ending (EOF, reset, keepalive timeout) ends both: no half-open session behind.
    directions = [
        asyncio.create_task(pipe(client_reader, server_writer)),
        asyncio.create_task(pipe(server_reader, client_writer)),
    ]
    await asyncio.wait(directions, return_when=asyncio.FIRST_COMPLETED)
    for task in directions:
        task.cancel()
    for writer in (client_writer, server_writer):
        writer.close()


async def serve(address: str, ports: list[int]) -> None:
    servers = [
        await asyncio.start_server(lambda r, w, port=port: relay(port, r, w), address, port, reuse_address=True)
        for port in ports
    ]
    logger.info("relaying %s to 127.0.0.1 for ports %s", address, " ".join(map(str, ports)))
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    for server in servers:
        server.close()


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(serve(argv[0], sorted({int(port) for port in argv[1:]})))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
