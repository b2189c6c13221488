"""Logging set-up: text or JSON lines, with a redaction layer in front of every handler.

The redaction filter removes every configured secret (account tokens and ids, API keys, the
external LLM key) and anything shaped like a bearer token or an account path from each record,
including its arguments and formatted exception, before any handler writes it.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from flux_remix.scrub import Redactor, secrets_of
from flux_remix.settings import Settings

__all__ = ["JsonFormatter", "RedactingFilter", "Redactor", "configure_logging", "secrets_of"]

log = logging.getLogger("flux_remix")
# Attributes a LogRecord always has; anything else was passed through `extra=`.
_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}
_HIDDEN = {"color_message"}  # uvicorn's copy of the message with terminal colour codes


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
