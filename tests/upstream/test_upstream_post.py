"""`upstream.client.post`: answers are freed by reference counting alone (no cycle left for the
garbage collector), so a 230 KB image body does not wait for a collection."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import httpx
import pytest

from flux_remix.upstream.client import post

BODY = b'{"result":{"image":"' + b"A" * 300_000 + b'"},"success":true}'


@pytest.fixture
def no_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def test_an_answer_is_freed_without_the_garbage_collector(no_collector: None) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=BODY))
    async with httpx.AsyncClient(transport=transport) as http:
        response = await post(http, "http://upstream.test/run", "Cloudflare", 5.0, json={})
        assert response.status_code == 200
        assert response.content == BODY  # still readable after the stream was swapped
        assert response.json()["success"] is True
        freed = weakref.ref(response)
        del response
        assert freed() is None
