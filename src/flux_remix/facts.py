"""What one request did, gathered for its access-log line: model, accounts, cache hit, translator.

The web middleware opens a `RequestFacts` per request (in a context variable, and as
`scope["state"]["facts"]` for routes); the pipeline notes what it learns with `note(...)`
without knowing about HTTP. Outside a request (the CLI) `note` does nothing. Child tasks
(`asyncio.gather`, streaming bodies) copy the context, so they note into the same object.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class RequestFacts:
    model: str | None = None
    accounts: list[str] = field(default_factory=list)  # labels, never ids
    cache: str | None = None  # hit / miss / partial
    translator: str | None = None
    images: int = 0

    def fields(self) -> dict[str, object]:
        """The facts as log fields (accounts joined, in the order they answered)."""
        return {
            "model": self.model,
            "account": ",".join(dict.fromkeys(self.accounts)) or None,
            "cache": self.cache,
            "translator": self.translator,
            "images": self.images or None,
        }


_current: ContextVar[RequestFacts | None] = ContextVar("flux_remix_request_facts", default=None)


@contextmanager
def collecting() -> Iterator[RequestFacts]:
    """Open the facts of one request for the code that runs inside this block."""
    facts = RequestFacts()
    token = _current.set(facts)
    try:
        yield facts
    finally:
        _current.reset(token)


def current() -> RequestFacts | None:
    return _current.get()


def note(
    *,
    model: str | None = None,
    account: str | None = None,
    cache: str | None = None,
    translator: str | None = None,
    images: int = 0,
) -> None:
    """Record what the pipeline learned about the current request (no-op outside one)."""
    facts = _current.get()
    if facts is None:
        return
    if model is not None:
        facts.model = model
    if account is not None:
        facts.accounts.append(account)
    if cache is not None:
        facts.cache = cache
    if translator is not None:
        facts.translator = translator
    facts.images += images
