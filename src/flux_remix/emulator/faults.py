"""Fault injection: scripted upstream failures per account and model.

A :class:`FaultSpec` matches calls by account and model, fires with a probability drawn
from a seeded RNG (so schedules are reproducible) and, with ``count``, only for the next N
firings. The first matching armed fault wins. :func:`fault_reply` builds the answer for the
kinds that replace the response outright; ``slow``, ``truncated`` and ``unweighted`` are
applied around a normal call by the runner. ``unweighted`` is a text model's answer with its
emphasis brackets and weights dropped (``(masterpiece:1.2)`` → ``masterpiece``), as small
models do now and then.

``echo: true`` makes a replacing fault leaky, as a misbehaving upstream or a proxy in between
can be: its error text quotes the calling account's id and the ``Authorization`` header it sent,
so tests can prove that no such text reaches a client, a log or stored state.
"""

from __future__ import annotations

import base64
import itertools
import json
import random
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from flux_remix.emulator import envelopes as env

FaultKind = Literal[
    "capacity",
    "rate_limit",
    "flagged",
    "bad_input",
    "timeout",
    "server_error",
    "bad_gateway",
    "paid_only",
    "quota",
    "slow",
    "truncated",
    "unweighted",
    "malformed",
    "invalid_base64",
    "not_an_image",
    "success_false",
    "html_error",
    "token_refused",
]

AROUND_CALL: frozenset[str] = frozenset({"slow", "truncated", "unweighted"})
"""Kinds that let the call run (and, for ``slow``, bill) and act around it."""


class FaultSpec(BaseModel):
    """One scripted fault; JSON-compatible so the admin endpoint can take it as is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FaultKind
    account_id: str | None = None
    model: str | None = None
    count: int | None = Field(default=None, ge=1)
    probability: float = Field(default=1.0, ge=0.0, le=1.0)
    retry_after: float | None = Field(default=None, ge=0.0)
    delay: float = Field(default=0.0, ge=0.0)
    echo: bool = False  # the error text quotes the account id and the Authorization value


@dataclass
class ArmedFault:
    """A registered fault with its id and remaining firings (None = until cleared)."""

    id: str
    spec: FaultSpec
    remaining: int | None

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "remaining": self.remaining, **self.spec.model_dump()}


class FaultBook:
    """The registered faults of one emulator, with a seeded RNG for probabilities."""

    def __init__(self, seed: int = 0) -> None:
        self._seed = seed
        self._rng = random.Random(seed)
        self._faults: list[ArmedFault] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, spec: FaultSpec) -> str:
        with self._lock:
            fault_id = f"fault-{next(self._ids)}"
            self._faults.append(ArmedFault(fault_id, spec, spec.count))
            return fault_id

    def remove(self, fault_id: str) -> bool:
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id != fault_id]
            return len(self._faults) < before

    def clear(self) -> int:
        with self._lock:
            count = len(self._faults)
            self._faults.clear()
            return count

    def reset(self) -> None:
        """Clear all faults and reseed the RNG (schedules start over)."""
        with self._lock:
            self._faults.clear()
            self._rng = random.Random(self._seed)
            self._ids = itertools.count(1)

    def listing(self) -> list[dict[str, object]]:
        with self._lock:
            return [fault.to_dict() for fault in self._faults]

    def draw(self, account_id: str, model: str) -> FaultSpec | None:
        """The fault that fires for this call, if any; consumes one of its ``count``."""
        with self._lock:
            for fault in self._faults:
                spec = fault.spec
                if spec.account_id not in (None, account_id) or spec.model not in (None, model):
                    continue
                if spec.probability < 1.0 and self._rng.random() >= spec.probability:
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return spec
            return None


NOT_AN_IMAGE = b"This is not an image. The emulator sent these bytes on purpose.\n" * 4

AI_ERRORS: Mapping[str, tuple[int, int, str]] = {
    "capacity": (429, 3040, "Capacity temporarily exceeded, please try again."),
    "rate_limit": (429, 3021, "rate limiting: inference request per min rate reached"),
    "flagged": (
        400,
        3030,
        "Your output has been flagged. Please choose another prompt / input image combination",
    ),
    "bad_input": (400, 5006, "Error: oneOf at '/' not met, 0 matches: Type mismatch"),
    "timeout": (408, 3007, "Request timeout"),
    "server_error": (500, 3043, "Internal server error"),
    "token_refused": (401, 10000, "Authentication error"),
}
"""Faults answered with an ``AiError`` envelope: HTTP status, code, message text."""

EDGE_PAGES: Mapping[str, tuple[int, str]] = {
    "bad_gateway": (502, "Bad Gateway"),
    "html_error": (500, "Internal Server Error"),
}
"""Faults answered with Cloudflare's HTML edge error page."""


def _replacement(
    kind: str, *, binary: bool, content_type: str, quota_code: int, echo: str
) -> env.Reply:
    if kind in AI_ERRORS:
        status, code, text = AI_ERRORS[kind]
        return env.ai_error_twice(status, code, f"{text}{echo}")
    if kind in EDGE_PAGES:
        status, title = EDGE_PAGES[kind]
        return env.edge_page(status, f"{title}{echo}")
    if kind == "paid_only":
        return env.paid_only()
    if kind == "quota":
        return env.quota_exceeded(quota_code)
    if kind == "malformed":
        return env.Reply(200, b'{"result":{"image":"/9j/4AAQSkZJRg')
    if kind == "invalid_base64":
        return env.success({"image": "!!not*base64@@" * 8})
    if kind == "not_an_image" and binary:
        return env.Reply(200, NOT_AN_IMAGE, media_type=content_type)
    if kind == "not_an_image":
        return env.success({"image": base64.b64encode(NOT_AN_IMAGE).decode()})
    if kind == "success_false":
        body = env.ai_error_twice(200, 3043, "Internal server error").body
        return env.Reply(200, body, code=3043)
    raise ValueError(f"{kind} is applied around a call, not as a reply")


def fault_reply(
    spec: FaultSpec,
    *,
    binary: bool,
    content_type: str,
    quota_code: int,
    account_id: str = "",
    authorization: str = "",
) -> env.Reply:
    """The complete answer for a fault that replaces the call (not ``slow``/``truncated``);
    with ``echo`` its text quotes ``account_id`` and ``authorization``."""
    echo = f": account {account_id} with Authorization: {authorization}" if spec.echo else ""
    reply = _replacement(
        spec.kind, binary=binary, content_type=content_type, quota_code=quota_code, echo=echo
    )
    if spec.retry_after is None or reply.status != 429:
        return reply
    value = spec.retry_after
    return reply.with_headers(retry_after=str(int(value)) if value.is_integer() else str(value))


_WEIGHT = re.compile(r":\s*\d+(?:\.\d+)?\s*(?=[)\]])")
_BRACKETS = str.maketrans("", "", "()[]")
_ANSWERS = ("response", "content", "translated_text")


def unweight(reply: env.Reply) -> env.Reply:
    """The same JSON answer with the weights and brackets of its text taken out."""

    def strip(value: object, key: str = "") -> object:
        if isinstance(value, dict):
            return {k: strip(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [strip(v) for v in value]
        if isinstance(value, str) and key in _ANSWERS:
            return _WEIGHT.sub("", value).translate(_BRACKETS)
        return value

    if reply.media_type != env.JSON_TYPE:
        return reply
    return replace(reply, body=env.dump(strip(json.loads(reply.body))))


def truncate(reply: env.Reply) -> env.Reply:
    """The same answer with its body cut in half (status, type and headers unchanged)."""
    return replace(reply, body=reply.body[: len(reply.body) // 2])
