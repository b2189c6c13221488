"""Logging set-up: text or JSON lines, with a redaction layer in front of every handler.

The redaction filter removes every configured secret (account tokens and ids, API keys, the
external LLM key) and anything shaped like a bearer token or an account path from each record,
including its arguments and formatted exception, before any handler writes it.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

from flux_remix.settings import Settings

log = logging.getLogger("flux_remix")
REDACTED = "[REDACTED]"
_PATTERNS = (
    re.compile(r"(fxr_)[A-Za-z0-9_-]{20,}"),  # a stored API key (keys/hashing.py)
    re.compile(r"(?i)(bearer\s+)[^\s\"',]+"),
    re.compile(r"(?i)(/accounts/)[0-9a-f]{16,}"),
    re.compile(
        r"(?i)((?:api[_-]?key|token|authorization)[\"']?\s*[:=]\s*[\"']?)"
        r"(?!bearer\b|\[REDACTED\])[^\s\"',}]+"
    ),
)
# Attributes a LogRecord always has; anything else was passed through `extra=`.
_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}
_HIDDEN = {"color_message"}  # uvicorn's copy of the message with terminal colour codes


def secrets_of(settings: Settings) -> list[str]:
    """Every configured secret: keys, account ids and tokens, store passwords and keys."""
    values = [k.get_secret_value() for k in (*settings.api_keys, *settings.admin_api_keys)]
    for account in settings.accounts:
        values += [account.token.get_secret_value(), account.account_id.get_secret_value()]
    for secret in (
        settings.external_api_key,
        settings.object_store_secret_key,
        settings.session_secret,
        settings.key_pepper,
    ):
        if secret is not None:
            values.append(secret.get_secret_value())
    database_url = settings.database_url.get_secret_value() if settings.database_url else None
    for url in (database_url, settings.redis_url, settings.object_store_url):
        values += _url_credentials(url)
    if settings.object_store_access_key:
        values.append(settings.object_store_access_key)
    return [v for v in values if len(v) >= 4]


def _url_credentials(url: str | None) -> list[str]:
    """The password (and the whole user:password part) of a `scheme://user:pass@host` URL."""
    if not url:
        return []
    parts = urlsplit(url)
    if parts.password is None:
        return []
    userinfo = parts.netloc.rpartition("@")[0]
    return [userinfo, parts.password, unquote(parts.password)]


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        ordered = sorted(set(secrets), key=len, reverse=True)
        self._secrets = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        # short values repeat from line to line (method, route, model, account label, status):
        # remembered, five regex scans each become one dict lookup
        self._short = functools.lru_cache(maxsize=4096)(self._redact)

    def __call__(self, text: str) -> str:
        return self._short(text) if len(text) <= 128 else self._redact(text)

    def _redact(self, text: str) -> str:
        if self._secrets is not None:
            text = self._secrets.sub(REDACTED, text)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        return text


class RedactingFilter(logging.Filter):
    """Rewrites each record so no secret survives into any handler's output."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redact = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info:
            formatter = logging.Formatter()
            record.exc_text = self.redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD:
                setattr(record, key, self.scrub(value))
        return True

    def scrub(self, value: Any) -> Any:
        """`value` with every string in it redacted (through dicts, lists and tuples)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {self.scrub(k): self.scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub(v) for v in value]
        if value is None or isinstance(value, bool | int | float):
            return value
        return self.redact(str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in _HIDDEN and not key.startswith("_"):
                entry[key] = value
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(settings: Settings, *, fmt: str = "text", level: str = "INFO") -> None:
    """Route every logger through one redacting handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter(Redactor(secrets_of(settings))))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
