"""Helpers for the web tests: read Server-Sent Events, sign in like a browser does."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support import ServerThread


@dataclass(frozen=True)
class Event:
    id: int
    event: str
    data: dict[str, Any]


def read_events(response: httpx.Response) -> Iterator[Event]:
    """The events of an open `text/event-stream` response, as they arrive."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line == "":
            if "data" in fields:
                yield Event(
                    int(fields.get("id", "0")),
                    fields.get("event", "message"),
                    json.loads(fields["data"]),
                )
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


def follow_job(client: httpx.Client, job_id: str, *, after: int | None = None) -> list[Event]:
    """Every event of a job from `after` on, until its last one."""
    headers = {"Last-Event-ID": str(after)} if after is not None else {}
    with client.stream("GET", f"/api/v1/jobs/{job_id}/events", headers=headers) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(read_events(response))


def hidden_field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name}"
    return match.group(1)


def csrf_meta(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]*)">', html)
    assert match, "no csrf-token meta"
    return match.group(1)


@contextmanager
def sign_in(server: ServerThread, key: str) -> Iterator[tuple[httpx.Client, str]]:
    """A client signed in through the form, and the CSRF token its pages carry."""
    with server.client() as client:
        form = client.get("/signin")
        token = hidden_field(form.text, "csrf_token")
        r = client.post("/signin", data={"key": key, "csrf_token": token, "next": "/"})
        assert r.status_code == 303, r.text
        page = client.get("/")
        assert page.status_code == 200
        yield client, csrf_meta(page.text)
