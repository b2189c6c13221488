"""Account routing and bearer-token checks, in Cloudflare's order: route, then token."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping

from flux_remix.emulator import envelopes as env

_BEARER = re.compile(r"^Bearer +([A-Za-z0-9._~+/=-]+)$", re.IGNORECASE)


def bearer_token(header: str | None) -> str | None:
    """The token of a well-formed ``Authorization: Bearer <token>`` header, else None."""
    if header is None:
        return None
    match = _BEARER.match(header.strip())
    return match.group(1) if match else None


def check_account(
    accounts: Mapping[str, str], account_id: str, header: str | None, path: str
) -> env.Reply | None:
    """The error for an account call (404/7003, 400/6003, 401/10000), or None if allowed."""
    expected = accounts.get(account_id)
    if expected is None:
        return env.no_route(path)
    token = bearer_token(header)
    if token is None:
        return env.missing_auth()
    if not secrets.compare_digest(token.encode(), expected.encode()):
        return env.bad_token()
    return None


def token_id(token: str) -> str:
    """A stable 32-hex id for a token, as ``/user/tokens/verify`` reports it."""
    return hashlib.md5(f"token:{token}".encode(), usedforsecurity=False).hexdigest()
