"""AWS Signature Version 4 for S3 requests, as small pure functions.

Enough of the S3 API for blobs (PUT, GET, HEAD, DELETE of an object; HEAD and PUT of a bucket)
needs only this signer and the shared httpx client; boto3 would bring botocore, a thread pool
for async use and tens of megabytes for four calls.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    k_date = _hmac(("AWS4" + secret_key).encode("utf-8"), date)
    return _hmac(_hmac(_hmac(k_date, region), service), "aws4_request")


def canonical_query(query: str) -> str:
    pairs = []
    for part in query.split("&") if query else []:
        name, _, value = part.partition("=")
        pairs.append((quote(name, safe="-_.~"), quote(value, safe="-_.~")))
    return "&".join(f"{n}={v}" for n, v in sorted(pairs))


def canonical_request(
    method: str, url: str, headers: Mapping[str, str], payload_hash: str
) -> tuple[str, str]:
    """The canonical request and its signed-header list (header names lower-cased, sorted)."""
    parts = urlsplit(url)
    path = quote(parts.path or "/", safe="/-_.~")
    names = sorted(h.lower() for h in headers)
    values = {h.lower(): " ".join(str(v).split()) for h, v in headers.items()}
    canonical_headers = "".join(f"{n}:{values[n]}\n" for n in names)
    signed = ";".join(names)
    text = "\n".join(
        (method, path, canonical_query(parts.query), canonical_headers, signed, payload_hash)
    )
    return text, signed


def sign(
    method: str,
    url: str,
    headers: Mapping[str, str],
    payload_hash: str,
    *,
    access_key: str,
    secret_key: str,
    region: str,
    now: datetime,
    service: str = "s3",
) -> dict[str, str]:
    """`headers` plus `x-amz-date`, `x-amz-content-sha256` and `Authorization`.

    `headers` must hold `host` (and anything else to sign); `now` must be in UTC.
    """
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    signed_headers = {**headers, "x-amz-date": amz_date, "x-amz-content-sha256": payload_hash}
    request, signed = canonical_request(method, url, signed_headers, payload_hash)
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        (ALGORITHM, amz_date, scope, hashlib.sha256(request.encode("utf-8")).hexdigest())
    )
    signature = hmac.new(
        signing_key(secret_key, date, region, service), to_sign.encode("utf-8"), hashlib.sha256
    ).hexdigest()
    return {
        **signed_headers,
        "Authorization": (
            f"{ALGORITHM} Credential={access_key}/{scope}, "
            f"SignedHeaders={signed}, Signature={signature}"
        ),
    }
