"""Talking to a real `serve` process the way an unfriendly client does: raw sockets that send
what they like, when they like, and the server's resident memory read from /proc."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass


def rss_mb(pid: int) -> float:
    """The process's resident set size in MB (VmRSS in /proc/<pid>/status)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS line")


@dataclass
class Answer:
    status: int
    head: str  # the status line and headers
    seconds: float  # from the first byte sent to the whole head received


def post_raw(port: int, path: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` with `Content-Length`, sent from a second thread while this one reads the
    answer, so a server that answers before reading the body is timed by when it answered."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()

    def send_body() -> None:
        try:
            view = memoryview(body)
            for at in range(0, len(body), 1 << 20):
                sock.sendall(view[at : at + (1 << 20)])
        except OSError:
            pass  # the server answered and closed: what was left is never read

    started = time.perf_counter()
    sock.sendall(head)
    sender = threading.Thread(target=send_body, daemon=True)
    sender.start()
    received = b""
    try:
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    finally:
        seconds = time.perf_counter() - started
        sock.close()
        sender.join(timeout=30)
    text = received.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    status = int(text.split(" ", 2)[1]) if text.startswith("HTTP/") else 0
    return Answer(status, text, seconds)
