"""One scrubber for secrets in text: the log redactor, and the filter upstream text passes.

`Redactor` removes every configured secret (account tokens and ids, API keys, the external LLM
key, store passwords) and anything shaped like an API key, a bearer credential, a token
assignment or an account path. Logs pass every record through one (`logs.py`).

Text that comes from upstream (Cloudflare's error messages, a proxy's error page, an external
LLM's errors and answers) passes through `upstream_scrubber` where it enters the system, in the
upstream clients: it also removes bare account-id shapes (32 hex digits), so a message that
quotes any account, configured or not, loses it before it can reach a response, an account's
disable reason, a job event, a stored row or a metric.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

from flux_remix.errors import UpstreamError
from flux_remix.settings import Settings

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
# upstream text only: Cloudflare account ids are 32 hex digits (our own ids, in logs, are too)
_ACCOUNT_ID_SHAPE = re.compile(r"(?i)()(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")


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
    def __init__(self, secrets: Iterable[str], *, extra: tuple[re.Pattern[str], ...] = ()) -> None:
        ordered = sorted(set(secrets), key=len, reverse=True)
        self._patterns = (*_PATTERNS, *extra)
        self._secrets = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        # short values repeat from line to line (method, route, model, account label, status):
        # remembered, five regex scans each become one dict lookup
        self._short = functools.lru_cache(maxsize=4096)(self._redact)

    def __call__(self, text: str) -> str:
        return self._short(text) if len(text) <= 128 else self._redact(text)

    def _redact(self, text: str) -> str:
        if self._secrets is not None:
            text = self._secrets.sub(REDACTED, text)
        for pattern in self._patterns:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        return text


def upstream_scrubber(settings: Settings) -> Redactor:
    """The scrubber for text from upstream: every configured secret and every secret shape."""
    return Redactor(secrets_of(settings), extra=(_ACCOUNT_ID_SHAPE,))


def scrubbed(error: UpstreamError, scrub: Redactor) -> UpstreamError:
    """`error` with its message scrubbed (in place: its class and fields stay as they are)."""
    error.message = scrub(error.message)
    error.args = (error.message, *error.args[1:])
    return error
