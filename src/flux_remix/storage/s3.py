"""Image bytes in an S3-compatible bucket (`OBJECT_STORE_URL`), for replicas sharing blobs.

Path-style requests signed with SigV4 (`sigv4.py`) over an httpx client. An S3 PUT is atomic by
contract (the object appears whole or not at all) and `x-amz-content-sha256` makes the server
check the bytes it got. `put_many` sends a batch's PUTs concurrently (the batch writer's
`put_many_blocking` runs it on the store's event loop). Tested against SeaweedFS.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from flux_remix.errors import StorageError
from flux_remix.storage.bridge import LoopBridge
from flux_remix.storage.records import check_blob_key
from flux_remix.storage.sigv4 import EMPTY_SHA256, sign

_ATTEMPTS = 3
_RETRY_STATUSES = {500, 502, 503, 504}
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class S3BlobStore:
    def __init__(
        self,
        endpoint: str,
        bucket: str,
        *,
        access_key: str,
        secret_key: SecretStr,
        region: str = "us-east-1",
        prefix: str = "images/",
        http: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
    ) -> None:
        if not _BUCKET.match(bucket):
            raise StorageError(f"'{bucket}' is not a valid bucket name")
        self.endpoint = endpoint.rstrip("/")
        self.bucket = bucket
        self.prefix = prefix
        self._access_key = access_key
        self._secret_key = secret_key
        self._region = region
        self._host = urlsplit(self.endpoint).netloc
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=timeout, limits=httpx.Limits(max_connections=64)
        )
        self._timeout = timeout
        self._loop = LoopBridge()

    def url_of(self, key: str) -> str:
        key = check_blob_key(key)
        return f"{self.endpoint}/{self.bucket}/{self.prefix}{key[:2]}/{key}"

    async def _send(
        self, method: str, url: str, body: bytes = b"", content_type: str | None = None
    ) -> httpx.Response:
        payload_hash = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
        base = {"host": self._host}
        if content_type:
            base["content-type"] = content_type
        for attempt in range(_ATTEMPTS):
            headers = sign(
                method,
                url,
                base,
                payload_hash,
                access_key=self._access_key,
                secret_key=self._secret_key.get_secret_value(),
                region=self._region,
                now=datetime.now(UTC),
            )
            try:
                response = await self._http.request(
                    method, url, content=body or None, headers=headers, timeout=self._timeout
                )
            except httpx.HTTPError as exc:
                if attempt + 1 == _ATTEMPTS:
                    raise StorageError(
                        f"the object store did not answer {method} ({type(exc).__name__})"
                    ) from exc
            else:
                if response.status_code not in _RETRY_STATUSES or attempt + 1 == _ATTEMPTS:
                    return response
            await asyncio.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _fail(self, what: str, response: httpx.Response) -> StorageError:
        code = re.search(r"<Code>([^<]{1,64})</Code>", response.text)
        detail = f" ({code.group(1)})" if code else ""
        return StorageError(
            f"the object store refused to {what}: HTTP {response.status_code}{detail}"
        )

    async def open(self) -> None:
        self._loop.bind()
        bucket_url = f"{self.endpoint}/{self.bucket}"
        response = await self._send("HEAD", bucket_url)
        if response.status_code == 200:
            return
        if response.status_code != 404:
            raise self._fail(f"open bucket '{self.bucket}'", response)
        body = b""
        if self._region != "us-east-1":
            body = (
                "<CreateBucketConfiguration><LocationConstraint>"
                f"{self._region}</LocationConstraint></CreateBucketConfiguration>"
            ).encode()
        response = await self._send("PUT", bucket_url, body)
        if response.status_code not in (200, 409):  # 409: another replica just created it
            raise self._fail(f"create bucket '{self.bucket}'", response)

    async def close(self) -> None:
        if self._own_http:
            await self._http.aclose()

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        response = await self._send("PUT", self.url_of(key), data, content_type)
        if response.status_code != 200:
            raise self._fail(f"store image {key}", response)

    async def put_many(self, items: Sequence[tuple[str, bytes, str]]) -> list[BaseException | None]:
        """The PUTs concurrently (the client allows 64 connections); one outcome per item."""
        results = await asyncio.gather(
            *(self.put(key, data, content_type) for key, data, content_type in items),
            return_exceptions=True,
        )
        outcomes: list[BaseException | None] = []
        for (key, _, _), result in zip(items, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(
                result, StorageError | ValueError
            ):
                failure = StorageError(f"cannot store image {key}: {type(result).__name__}")
                failure.__cause__ = result
                result = failure
            outcomes.append(result)
        return outcomes

    def put_many_blocking(
        self, items: Sequence[tuple[str, bytes, str]]
    ) -> list[BaseException | None]:
        return self._loop.call(self.put_many(items))

    def place(self, key: str, size: int) -> str:
        """Objects are written where their key says: the key itself."""
        return check_blob_key(key)

    async def get(self, key: str) -> bytes | None:
        response = await self._send("GET", self.url_of(key))
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._fail(f"read image {key}", response)
        return response.content

    async def exists(self, key: str) -> bool:
        response = await self._send("HEAD", self.url_of(key))
        if response.status_code in (200, 404):
            return response.status_code == 200
        raise self._fail(f"check image {key}", response)

    async def delete(self, key: str) -> None:
        response = await self._send("DELETE", self.url_of(key))
        if response.status_code not in (200, 204, 404):
            raise self._fail(f"delete image {key}", response)
