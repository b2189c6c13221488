"""Response bodies as Cloudflare writes them: envelopes, error messages, edge pages.

Two error families exist upstream:

- API-level errors (routing, auth, header format) carry ``"result": null``;
- model-level errors (``AiError``) carry ``"result": {}`` and usually a request UUID.

Everything here builds a :class:`Reply`, a framework-free description of an HTTP answer
that the web layer turns into a real response.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, field, replace

JSON_TYPE = "application/json"
HTML_TYPE = "text/html"


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: status, body bytes, media type, extra headers, and log details."""

    status: int
    body: bytes
    media_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    code: int | None = None
    neurons: float = 0.0

    def billed(self, neurons: float) -> Reply:
        """A copy that records the neurons this answer costs (billed by the runner)."""
        return replace(self, neurons=neurons)

    def with_headers(self, **headers: str) -> Reply:
        """A copy with ``headers`` added (underscores in names become dashes)."""
        extra = {k.replace("_", "-"): v for k, v in headers.items()}
        return replace(self, headers={**self.headers, **extra})


def dump(payload: object) -> bytes:
    """Compact JSON, non-ASCII kept, as Cloudflare sends it."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def request_uuid() -> str:
    """A fresh request UUID, the kind Cloudflare appends to AiError messages."""
    return str(uuid.uuid4())


def cf_ray() -> str:
    """A ``cf-ray`` value: 16 hex digits and a (fake) colo code."""
    return f"{secrets.token_hex(8)}-EMU"


def json_reply(status: int, payload: object, *, code: int | None = None) -> Reply:
    return Reply(status=status, body=dump(payload), code=code)


def success(result: object) -> Reply:
    """``{"result": ..., "success": true, "errors": [], "messages": []}`` with status 200."""
    return json_reply(200, {"result": result, "success": True, "errors": [], "messages": []})


def image_success(b64: bytes) -> Reply:
    """``success({"image": b64})``, byte for byte, without running the JSON encoder over the
    ~230 KB of base64 (1-2 ms of CPU per image): base64 text needs no escaping."""
    body = b'{"result":{"image":"' + b64 + b'"},"success":true,"errors":[],"messages":[]}'
    return Reply(status=200, body=body)


def api_error(
    status: int, code: int, message: str, *, chain: list[dict[str, object]] | None = None
) -> Reply:
    """An API-level error: ``"result": null``, optionally with an ``error_chain``."""
    error: dict[str, object] = {"code": code, "message": message}
    if chain is not None:
        error["error_chain"] = chain
    payload = {"success": False, "errors": [error], "messages": [], "result": None}
    return json_reply(status, payload, code=code)


def ai_error(status: int, code: int, message: str) -> Reply:
    """A model-level error envelope with ``"result": {}``; ``message`` is used verbatim."""
    payload = {
        "errors": [{"message": message, "code": code}],
        "success": False,
        "result": {},
        "messages": [],
    }
    return json_reply(status, payload, code=code)


def ai_error_twice(status: int, code: int, text: str) -> Reply:
    """The common live form: ``AiError: AiError: <text> (<uuid>)``."""
    return ai_error(status, code, f"AiError: AiError: {text} ({request_uuid()})")


def bad_input(detail: str) -> Reply:
    """400 / 5006 schema violation: ``AiError: Bad input: Error: <detail>``."""
    return ai_error(400, 5006, f"AiError: Bad input: Error: {detail}")


def no_such_model(model: str) -> Reply:
    """400 / 5007, the answer for unknown and retired models."""
    return ai_error(400, 5007, f"No such model {model} or task")


QUOTA_TEXT = {
    4006: (
        "you have used up your daily free allocation of 10,000 neurons, please upgrade to "
        "Cloudflare's Workers Paid plan if you would like to continue usage."
    ),
    3036: (
        "You have used up your daily free allocation of 10,000 neurons. Please upgrade to "
        "Cloudflare's Workers Paid plan if you would like to continue usage."
    ),
}


def quota_exceeded(code: int) -> Reply:
    """429 daily-allocation refusal, code 4006 (observed) or 3036 (documented)."""
    return ai_error_twice(429, code, QUOTA_TEXT[code])


def paid_only() -> Reply:
    """403 / 5035: the model needs Workers Paid; every emulated account is on the free plan."""
    text = "This model requires the Workers Paid plan. Please upgrade to continue."
    return ai_error_twice(403, 5035, text)


def missing_auth() -> Reply:
    """400 / 6003 with chain 6111: absent or malformed ``Authorization`` header."""
    chain: list[dict[str, object]] = [
        {"code": 6111, "message": "Invalid format for Authorization header"}
    ]
    return api_error(400, 6003, "Invalid request headers", chain=chain)


def bad_token() -> Reply:
    """401 / 10000, a well-formed token that is not valid for the account."""
    payload = {
        "result": None,
        "success": False,
        "errors": [{"code": 10000, "message": "Authentication error"}],
        "messages": [],
    }
    return json_reply(401, payload, code=10000)


def no_route(path: str) -> Reply:
    """404 / 7003, unknown account id or unknown route."""
    message = f"Could not route to {path}, perhaps your object identifier is invalid?"
    return api_error(404, 7003, message)


def edge_page(status: int, title: str) -> Reply:
    """An HTML error page like the ones Cloudflare's edge serves (no JSON at all)."""
    html = (
        f"<html>\r\n<head><title>{status} {title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {title}</h1></center>\r\n"
        "<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
    )
    return Reply(status=status, body=html.encode(), media_type=HTML_TYPE)
