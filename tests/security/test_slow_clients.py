"""Finding 9: slow and idle clients. Thousands of connections to a real `serve` that send nothing,
or half a request's headers, do not stop it answering others, and each is closed once
`FLUX_REMIX_HEADER_TIMEOUT` passes without a complete request (uvicorn alone keeps them open
for ever)."""

from __future__ import annotations

import resource
import socket
import time

import httpx
import pytest

IDLE = 1000
PARTIAL = 1000


@pytest.fixture
def serve(start_serve):
    return start_serve(FLUX_REMIX_HEADER_TIMEOUT="1")


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except (BlockingIOError, TimeoutError):
        return False


def test_idle_and_half_open_connections_neither_block_service_nor_stay(serve):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < IDLE + PARTIAL + 200:
        pytest.skip(f"this test needs {IDLE + PARTIAL + 200} open files; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    socks: list[socket.socket] = []
    try:
        for i in range(IDLE + PARTIAL):
            sock = socket.create_connection(("127.0.0.1", serve.port), timeout=5)
            if i >= IDLE:  # a slowloris: the start of a request, never finished
                sock.sendall(b"POST /api/v1/images HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            socks.append(sock)
        started = time.perf_counter()
        with httpx.Client(timeout=10) as c:
            for _ in range(5):
                assert c.get(f"{serve.url}/healthz").status_code == 200
        healthz = (time.perf_counter() - started) / 5
        assert healthz < 1.0, healthz  # ~ms; uvicorn keeps serving beside the idle ones

        time.sleep(3.5)  # past twice the 1 s header timeout
        for sock in socks:
            sock.settimeout(2)
        still_open = sum(not closed_by_server(s) for s in socks)
        assert still_open == 0, f"{still_open} of {len(socks)} idle connections were kept"
        with httpx.Client(timeout=10) as c:
            assert c.get(f"{serve.url}/healthz").status_code == 200
    finally:
        for sock in socks:
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_client_that_sends_its_request_in_time_is_served(serve):
    with socket.create_connection(("127.0.0.1", serve.port), timeout=10) as sock:
        time.sleep(0.3)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 200")
