"""Decode Workers AI responses: images (JSON-base64 or binary, sniffed), text, and errors.

Errors are classified by Cloudflare's code first and by message second (contract section 5.3):
codes vary between captures, may be strings, and may be missing.
"""

from __future__ import annotations

import binascii
import json
import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pydantic_core

from flux_remix import b64
from flux_remix import errors as e
from flux_remix.schemas import ImageFormat

_UUID_SUFFIX = re.compile(r"\s*\([0-9a-fA-F-]{8,}\)\s*$")
_AIERROR_PREFIX = re.compile(r"^(AiError:\s*)+")

_BY_CODE: dict[int, type[e.UpstreamError]] = {
    4006: e.QuotaExhaustedError,
    3036: e.QuotaExhaustedError,
    3040: e.CapacityError,
    3021: e.RateLimitedError,
    971: e.RateLimitedError,
    5006: e.UpstreamBadInputError,
    5004: e.UpstreamBadInputError,
    8006: e.UpstreamBadInputError,
    8007: e.UpstreamBadInputError,
    3003: e.UpstreamBadInputError,
    3006: e.UpstreamBadInputError,
    5007: e.UpstreamModelGoneError,
    3042: e.UpstreamModelGoneError,
    10000: e.AccountAuthError,
    6003: e.AccountAuthError,
    6111: e.AccountAuthError,
    7003: e.AccountAuthError,
    9109: e.AccountAuthError,
    5035: e.PaidPlanRequiredError,
    5016: e.PaidPlanRequiredError,
    5018: e.PaidPlanRequiredError,
    3041: e.PaidPlanRequiredError,
    3023: e.PaidPlanRequiredError,
    3007: e.UpstreamTimeoutError,
    3008: e.UpstreamTimeoutError,
}

_FLAGGED = re.compile(r"flagged", re.I)
_BY_MESSAGE: tuple[tuple[re.Pattern[str], type[e.UpstreamError]], ...] = (
    (re.compile(r"daily free allocation|neurons", re.I), e.QuotaExhaustedError),
    (re.compile(r"capacity temporarily exceeded|no more data centers", re.I), e.CapacityError),
    (re.compile(r"rate limit", re.I), e.RateLimitedError),
    (_FLAGGED, e.ContentFlaggedError),
    (re.compile(r"no such model|model name is invalid", re.I), e.UpstreamModelGoneError),
    (
        re.compile(r"authentication error|authorization header|invalid api token", re.I),
        e.AccountAuthError,
    ),
    (
        re.compile(r"bad input|max context|sequence too long|invalid data", re.I),
        e.UpstreamBadInputError,
    ),
)

_BY_STATUS: dict[int, type[e.UpstreamError]] = {
    400: e.UpstreamBadInputError,
    401: e.AccountAuthError,
    403: e.PaidPlanRequiredError,
    404: e.AccountAuthError,  # unknown account id or route (7003)
    408: e.UpstreamTimeoutError,
    413: e.UpstreamBadInputError,
    429: e.RateLimitedError,
}


def sniff_format(data: bytes) -> ImageFormat | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    return None


def image_size(data: bytes, fmt: ImageFormat) -> tuple[int, int] | None:
    """Width and height read from the header, without decoding pixels."""
    if fmt == "png":
        if len(data) >= 24 and data[12:16] == b"IHDR":
            w, h = struct.unpack(">II", data[16:24])
            return int(w), int(h)
        return None
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(w), int(h)
        i += 2 + length
    return None


def check_image(data: bytes) -> tuple[ImageFormat, int, int]:
    """Format and size of image bytes, or `MalformedResponseError` when they are no image."""
    fmt = sniff_format(data)
    if fmt is None:
        raise e.MalformedResponseError("upstream returned bytes that are not a PNG or JPEG image")
    size = image_size(data, fmt)
    if size is None:
        raise e.MalformedResponseError(f"upstream returned a truncated {fmt.upper()} image")
    if fmt == "png" and not data.rstrip(b"\x00").endswith(b"IEND\xaeB`\x82"):
        raise e.MalformedResponseError("upstream returned a truncated PNG image")
    if fmt == "jpeg" and b"\xff\xd9" not in data[-16:]:
        raise e.MalformedResponseError("upstream returned a truncated JPEG image")
    return fmt, size[0], size[1]


def read_envelope(response: httpx.Response) -> dict[str, Any]:
    try:  # pydantic-core's parser: ~10x json.loads on a 230 KB image envelope, same results
        body = pydantic_core.from_json(response.content)
    except ValueError:
        raise e.MalformedResponseError(
            f"upstream returned a body that is not valid JSON (HTTP {response.status_code})"
        ) from None
    if not isinstance(body, dict):
        raise e.MalformedResponseError("upstream returned JSON that is not an object")
    return body


@dataclass(frozen=True)
class DecodedImage:
    data: bytes
    b64: str | None  # the base64 text upstream sent (JSON outputs): answers reuse it as is


def image_from_response(response: httpx.Response) -> bytes:
    """Image bytes from a successful response: binary body or JSON `result.image` base64."""
    return decode_image(response).data


def decode_image(response: httpx.Response) -> DecodedImage:
    """The image of a successful response, and its base64 text when it came as base64."""
    ctype = response.headers.get("content-type", "").lower()
    if ctype.startswith("image/"):
        return DecodedImage(response.content, None)
    if "json" not in ctype:
        raise e.MalformedResponseError(f"upstream returned an unexpected content type '{ctype}'")
    found = _plain_image(response.content)
    if found is not None:
        return found
    body = read_envelope(response)
    if body.get("success") is False:
        raise error_from_envelope(response.status_code, body, response.headers)
    result = body.get("result")
    image = result.get("image") if isinstance(result, dict) else None
    if not isinstance(image, str) or not image:
        raise e.MalformedResponseError("upstream JSON has no result.image")
    try:
        return DecodedImage(b64.decode(image), image)
    except (binascii.Error, ValueError):
        raise e.MalformedResponseError("upstream result.image is not valid base64") from None


_IMAGE_FIELD = b'"image":"'


def _plain_image(content: bytes) -> DecodedImage | None:
    """The image of a successful envelope in the shape Workers AI sends, `{"result":
    {"image":"<base64>"}, "success":true, ...}`, without parsing the ~235 KB of base64 as JSON
    (that parse was 4% of the event loop under load); None for anything else, which is then
    parsed whole and judged as before.

    `"image":"` opens the value of an "image" key: that byte sequence cannot occur inside a JSON
    string (its quotes would be escaped). The value runs to the next quote; strict base64
    refuses any escape in it. No other `"image"` may appear before or after it (a duplicate key
    would win in a full parse). The envelope with that value emptied is then parsed, and must
    succeed with an empty `result.image`: so the text cut out was exactly result.image."""
    start = content.find(_IMAGE_FIELD)
    if start < 0:
        return None
    begin = start + len(_IMAGE_FIELD)
    end = content.find(b'"', begin)
    if (
        end <= begin
        or content.find(b'"image"', 0, start) >= 0
        or content.find(b'"image"', end) >= 0
    ):
        return None
    text = content[begin:end]
    try:
        data = b64.decode(text)
        envelope = pydantic_core.from_json(content[:begin] + content[end:])
    except ValueError:  # binascii.Error is one
        return None
    if not isinstance(envelope, dict) or envelope.get("success") is False:
        return None
    result = envelope.get("result")
    if not isinstance(result, dict) or result.get("image") != "":
        return None
    return DecodedImage(data, text.decode("ascii"))


def neurons_header(response: httpx.Response) -> float | None:
    raw = response.headers.get("cf-ai-neurons")
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def parse_retry_after(headers: httpx.Headers, now: datetime | None = None) -> float | None:
    """Seconds from `retry-after-ms` or `Retry-After` (seconds or an HTTP date), if sensible."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            value = float(raw_ms) / 1000
            return value if value >= 0 else None
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        value = float(raw)
        return value if value >= 0 else None
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def clean_message(message: str) -> str:
    """Cloudflare's message without the `AiError: AiError:` prefix and request uuid."""
    return _UUID_SUFFIX.sub("", _AIERROR_PREFIX.sub("", message.strip())).strip()


def _first_error(body: dict[str, Any]) -> tuple[int | None, str]:
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        raw_code = first.get("code")
        code: int | None
        try:
            code = int(raw_code) if raw_code is not None else None
        except (TypeError, ValueError):
            code = None
        message = str(first.get("message") or "")
        chain = first.get("error_chain")
        if isinstance(chain, list) and chain and isinstance(chain[0], dict):
            message = f"{message}: {chain[0].get('message', '')}".strip(": ")
        return code, message
    if isinstance(body.get("error"), str):
        return None, str(body["error"])
    return None, ""


def classify_error(status: int, code: int | None, message: str) -> type[e.UpstreamError]:
    """The error class for an upstream failure: code first, then message, then status."""
    if code == 3030:  # flagged output and "max context reached" share this code
        return e.ContentFlaggedError if _FLAGGED.search(message) else e.UpstreamBadInputError
    if code is not None and code in _BY_CODE:
        return _BY_CODE[code]
    for pattern, candidate in _BY_MESSAGE:
        if pattern.search(message):
            return candidate
    if status >= 500 or status < 400:  # 5xx, or HTTP 200 with success:false
        return e.UpstreamServerError
    return _BY_STATUS.get(status, e.UpstreamServerError)


def error_from_envelope(
    status: int, body: dict[str, Any], headers: httpx.Headers
) -> e.UpstreamError:
    code, raw = _first_error(body)
    message = clean_message(raw) or f"HTTP {status}"
    cls = classify_error(status, code, message)
    return cls(message, status=status, code=code, retry_after=parse_retry_after(headers))


def error_from_response(response: httpx.Response) -> e.UpstreamError:
    """The typed error for a failed response, whatever its body (JSON, HTML or nothing)."""
    status = response.status_code
    try:
        body = json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        return error_from_envelope(status, body, response.headers)
    retry_after = parse_retry_after(response.headers)
    cls = classify_error(status, None, "")
    message = (
        f"Cloudflare answered HTTP {status} without a JSON error"
        if status >= 400
        else f"Cloudflare answered HTTP {status} with an unreadable body"
    )
    return cls(message, status=status, retry_after=retry_after)
