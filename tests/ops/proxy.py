"""A tiny round-robin HTTP proxy for tests: each request goes to the next backend in turn (no
sticky sessions), the way compose.yaml's Caddy `lb_policy round_robin` spreads them; the
Host header is passed on, so URLs the replicas build point at the proxy. Responses
are streamed through as they come (Server-Sent Events included). It counts which backend
served each path, so a test can show that one job's requests reached both replicas."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
    "content-length",
}


class RoundRobinProxy:
    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.served: Counter[tuple[str, str]] = Counter()  # (backend, path) -> requests
        self._next = itertools.cycle(range(len(backends)))
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=httpx.Timeout(120, connect=5))
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # one request per connection: every one is re-routed

            def _forward(self) -> None:
                backend = proxy.pick(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                request = proxy._client.build_request(
                    self.command, backend + self.path, headers=headers, content=body
                )
                try:
                    response = proxy._client.send(request, stream=True)
                except httpx.HTTPError:
                    self.send_error(502, "backend unreachable")
                    return
                try:
                    self.send_response_only(response.status_code)
                    for name, value in response.headers.multi_items():
                        if name.lower() not in HOP_BY_HOP and name.lower() != "content-encoding":
                            self.send_header(name, value)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for chunk in response.iter_raw():
                        self.wfile.write(chunk)
                        self.wfile.flush()
                except (httpx.HTTPError, OSError):
                    pass  # the backend died mid-answer, or the client left
                finally:
                    response.close()

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = _forward

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def pick(self, path: str) -> str:
        with self._lock:
            backend = self.backends[next(self._next)]
            self.served[(backend, path.split("?")[0])] += 1
        return backend

    def backends_for(self, path_part: str) -> set[str]:
        with self._lock:
            return {b for (b, path), n in self.served.items() if path_part in path and n}


@contextmanager
def round_robin(backends: list[str]) -> Iterator[RoundRobinProxy]:
    proxy = RoundRobinProxy(backends)
    thread = threading.Thread(target=proxy.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.server.shutdown()
        proxy.server.server_close()
        proxy._client.close()
