"""Finding 6: load shedding. Against a real `serve` whose upstream takes a second per image,
with `FLUX_REMIX_MAX_INFLIGHT=4` and `FLUX_REMIX_MAX_WAITING=4`, 40 concurrent generations:
8 are served, the other 32 get a fast 503 with `Retry-After` in their API shape's format, and
nothing times out (before: everything was accepted and the p50 climbed to 15.9 s at 1,000).
The throughput figure at 1,000 concurrent requests is `bench/shedding.py`'s."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from flux_remix.emulator import FaultSpec
from tests.conftest import AUTH

DS8 = {"prompt": "a lighthouse", "model": "DS-8-CF", "width": 256, "height": 256}
SHAPES = [  # path, body, how the error reads
    ("/api/v1/images", DS8, lambda j: j["error"]["type"]),
    ("/v1/images/generations", {**DS8, "size": "256x256"}, lambda j: j["error"]["code"]),
    ("/api/generate-image", {"prompt": "a lighthouse", "model": "DS-8-CF"}, lambda j: j["type"]),
]


@pytest.fixture
def serve(start_serve):
    return start_serve(
        FLUX_REMIX_MAX_INFLIGHT="4", FLUX_REMIX_MAX_WAITING="4", FLUX_REMIX_TRANSLATOR="dictionary"
    )


async def flood(url: str, n: int) -> list[tuple[int, float, str, dict]]:
    limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=n + 10)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits, headers=AUTH) as c:

        async def one(i: int) -> tuple[int, float, str, dict]:
            path, body, _ = SHAPES[i % len(SHAPES)]
            started = time.perf_counter()
            r = await c.post(path, json={**body, "seed": i} if "size" in body else body)
            seconds = time.perf_counter() - started
            return r.status_code, seconds, path, {"json": r.json(), **r.headers}

        return await asyncio.gather(*(one(i) for i in range(n)))


def test_beyond_the_bounds_requests_get_a_fast_503_and_the_rest_are_served(serve, emulator):
    emulator.state.fault_book.add(FaultSpec(kind="slow", delay=1.0))
    answers = asyncio.run(flood(serve.url, 40))
    served = [a for a in answers if a[0] == 200]
    refused = [a for a in answers if a[0] == 503]
    assert len(served) + len(refused) == 40, [a[0] for a in answers]
    assert 8 <= len(served) <= 12  # 4 running + 4 waiting (a slot freed early may take more)
    for _, seconds, path, extra in refused:
        assert int(extra["retry-after"]) >= 1
        reader = next(r for p, _, r in SHAPES if p == path)
        assert reader(extra["json"]) == "overloaded"
        assert seconds < 0.9  # answered long before the first upstream call (1 s) returns
    assert {path for _, _, path, _ in refused} == {p for p, _, _ in SHAPES}  # every shape
    assert max(a[1] for a in served) < 10  # nothing waited past its bound


def test_a_refused_request_is_answered_before_its_body_is_read(serve, emulator):
    emulator.state.fault_book.add(FaultSpec(kind="slow", delay=2.0))

    async def run() -> tuple[int, float]:
        limits = httpx.Limits(max_connections=20)
        async with httpx.AsyncClient(base_url=serve.url, timeout=60, limits=limits) as c:
            busy = [
                asyncio.create_task(c.post("/api/v1/images", json={**DS8, "seed": i}, headers=AUTH))
                for i in range(8)
            ]
            await asyncio.sleep(0.5)  # all slots and the line are taken now
            started = time.perf_counter()
            big = b'{"prompt": "' + b"x" * 20_000_000 + b'"}'
            r = await c.post(
                "/api/v1/images",
                content=big,
                headers={**AUTH, "Content-Type": "application/json"},
            )
            seconds = time.perf_counter() - started
            # shed before anything else, the key too: a stranger learns only that it is full
            stranger = await c.post("/v1/images/generations", json={**DS8, "size": "256x256"})
            assert stranger.status_code == 503, stranger.text
            assert stranger.json()["error"]["code"] == "overloaded"
            assert int(stranger.headers["retry-after"]) >= 1
            served = [b.status_code for b in await asyncio.gather(*busy)]
            assert served == [200] * 8
            shed = await c.get("/metrics", headers=AUTH)
            assert "flux_remix_requests_shed_total 2.0" in shed.text
            return r.status_code, seconds

    status, seconds = asyncio.run(run())
    assert status == 503
    assert seconds < 1.5  # while the 8 admitted still wait on their 2 s upstream calls


def test_the_line_is_only_as_long_as_the_wait_budget_allows(start_serve, emulator):
    """Two slots, room for 100 in line, but a 1.5 s budget and generations that hold a slot
    ~1 s: the first two in line get a slot within one holding time; a third would need two
    (2 s) and is refused at once, not after waiting 1.5 s for nothing."""
    serve = start_serve(
        FLUX_REMIX_MAX_INFLIGHT="2",
        FLUX_REMIX_MAX_WAITING="100",
        FLUX_REMIX_MAX_WAIT="1.5",
        FLUX_REMIX_TRANSLATOR="dictionary",
    )
    emulator.state.fault_book.add(FaultSpec(kind="slow", delay=1.0))

    async def run() -> list[tuple[int, float]]:
        async with httpx.AsyncClient(base_url=serve.url, timeout=60, headers=AUTH) as c:

            async def one(i: int) -> tuple[int, float]:
                started = time.perf_counter()
                r = await c.post("/api/v1/images", json={**DS8, "seed": i})
                return r.status_code, time.perf_counter() - started

            warm = await asyncio.gather(one(0), one(1))  # how long a slot is held: ~1 s
            assert [status for status, _ in warm] == [200, 200]
            return await asyncio.gather(*(one(i) for i in range(2, 14)))

    answers = asyncio.run(run())
    served = [seconds for status, seconds in answers if status == 200]
    refused = [seconds for status, seconds in answers if status == 503]
    assert len(served) == 4, answers  # 2 running + 2 in line (one holding time each)
    assert len(refused) == 8, answers
    assert max(refused) < 0.9  # at once: before the first upstream call (1 s) returns
    assert max(served) < 3.0  # one holding time waiting, one running


class FullServer:
    """A `serve` whose 4 slots and 4 places in line are taken by generations waiting on a slow
    upstream, for as long as the `with` block lasts, in a thread of its own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.statuses: list[int] = []

    def __enter__(self) -> FullServer:
        import threading

        def hold() -> None:
            async def run() -> None:
                async with httpx.AsyncClient(base_url=self.url, timeout=60, headers=AUTH) as c:
                    answers = await asyncio.gather(
                        *(c.post("/api/v1/images", json={**DS8, "seed": i}) for i in range(8))
                    )
                    self.statuses = [a.status_code for a in answers]

            asyncio.run(run())

        self.thread = threading.Thread(target=hold, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # full once a stranger's POST is shed
            probe = httpx.post(f"{self.url}/api/v1/images", json=DS8, timeout=10)
            if probe.status_code == 503:
                return self
            time.sleep(0.05)
        raise AssertionError("the server never filled up")

    def __exit__(self, *exc: object) -> None:
        self.thread.join(timeout=60)
        assert self.statuses == [200] * 8  # the requests that filled it were served meanwhile


def exchange(port: int, data: bytes, *, answers: int) -> tuple[list[bytes], bool]:
    """Write `data` on one connection, read `answers` HTTP answers (heads and bodies, by
    Content-Length); then whether the server closed the connection."""
    import socket

    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(data)
    buffer, got = b"", []
    while len(got) < answers:
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            assert chunk, f"closed after {len(got)} answers"
            buffer += chunk
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        length = int(
            next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(
                b":"
            )[1]
        )
        while len(buffer) < length:
            buffer += sock.recv(65536)
        got.append(head + b"\r\n\r\n" + buffer[:length])
        buffer = buffer[length:]
    sock.settimeout(0.5)
    try:
        closed = sock.recv(1) == b""
    except TimeoutError:
        closed = False
    sock.close()
    return got, closed


def post_head(path: str, length: int, extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n{extra}\r\n"
    ).encode()


def test_a_refusal_comes_from_the_headers_alone_and_the_connection_stays_usable(serve, emulator):
    """The protocol answers a shed POST from its headers: 10 MB announced, none sent, the 503
    arrives; then the body, a pipelined second POST and a GET on the same connection are read
    and answered in order (the refused bodies dropped, not mistaken for requests)."""
    emulator.state.fault_book.add(FaultSpec(kind="slow", delay=2.0))
    port = int(serve.url.rsplit(":", 1)[1])
    with FullServer(serve.url):
        (first,), closed = exchange(port, post_head("/api/v1/images", 10_000_000), answers=1)
        assert first.startswith(b"HTTP/1.1 503"), first[:200]
        assert b"retry-after: 1" in first.lower() and b"date: " in first.lower()
        assert not closed  # kept alive: the announced body may still come

        body = b'{"prompt": "' + b"x" * 5000 + b'"}'
        burst = post_head("/v1/images/generations", len(body)) + body
        burst += post_head("/api/generate-image", len(body)) + body
        burst += (  # a chunked body: dropped chunk by chunk, not read as a request
            b"POST /sdapi/v1/txt2img HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nGET /\r\n3\r\n{}x\r\n0\r\n\r\n"
        )
        burst += b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        answers, closed = exchange(port, burst, answers=4)
        assert [a.split(b" ", 2)[1] for a in answers] == [b"503", b"503", b"503", b"200"]
        assert b'"code":"overloaded"' in answers[0]  # OpenAI's shape
        assert b'"type":"overloaded"' in answers[1]  # the original API's shape
        assert not closed


def test_a_refusal_closes_when_the_body_would_never_come_or_the_client_asked(serve, emulator):
    emulator.state.fault_book.add(FaultSpec(kind="slow", delay=2.0))
    port = int(serve.url.rsplit(":", 1)[1])
    with FullServer(serve.url):
        for extra in ("Expect: 100-continue\r\n", "Connection: close\r\n"):
            (answer,), closed = exchange(port, post_head("/api/v1/images", 100, extra), answers=1)
            assert answer.startswith(b"HTTP/1.1 503") and b"connection: close" in answer.lower()
            assert closed, extra
        old = b"POST /api/v1/images HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}"
        (answer,), closed = exchange(port, old, answers=1)
        assert b" 503 " in answer.split(b"\r\n")[0] and closed
