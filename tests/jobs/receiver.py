"""A local webhook receiver for the webhook tests (jobs over HTTP and the delivery engine), and
the Standard Webhooks secret they sign with."""

from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Receiver:
    """A local webhook receiver that answers 500 to the first `failures` deliveries (of each
    `webhook-id` with `per_id`), then 204; each answer after `delay` seconds."""

    def __init__(self, failures: int, *, per_id: bool = False, delay: float = 0.0) -> None:
        self.failures = failures
        self.received: list[tuple[float, dict[str, str], bytes]] = []
        seen: Counter[str] = Counter()
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    receiver.received.append((time.monotonic(), dict(self.headers), body))
                    key = self.headers["webhook-id"] if per_id else ""
                    seen[key] += 1
                    failed = seen[key] <= receiver.failures
                time.sleep(delay)
                self.send_response(500 if failed else 204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/flux"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def by_id(self, msg_id: str) -> list[tuple[float, dict[str, str], bytes]]:
        return [r for r in self.received if r[1]["webhook-id"] == msg_id]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
