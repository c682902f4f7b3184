"""Objects in an S3-compatible store (aiobotocore): streamed in and out, never held whole.

Every failure to reach the store, or a refusal by it, surfaces as ObjectStoreUnavailable
(503); an object that should be there and is not as StoredObjectMissing. The client (and
aiobotocore itself, a third of the cases service's import time) is loaded on first use,
so a process that never touches the store pays nothing for it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from contextlib import AsyncExitStack, contextmanager
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote

from libs.common.errors import ObjectStoreUnavailable, StoredObjectMissing
from libs.common.logging import get_logger
from libs.common.settings import ObjectStoreSettings

if TYPE_CHECKING:
    from botocore.exceptions import ClientError
    from types_aiobotocore_s3 import S3Client

log = get_logger(__name__)
READ_CHUNK_BYTES = 256 * 1024
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}


def tenant_key_prefix(tenant_id: str) -> str:
    """A tenant's first key segment: quoted, so a tenant id with '/' cannot reach into
    another tenant's keys."""
    return quote(tenant_id, safe="") + "/"


class ObjectStore:
    def __init__(self, settings: ObjectStoreSettings) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        self._stack = AsyncExitStack()
        self._s3: S3Client | None = None
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        await self._stack.aclose()
        self._s3 = None

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes], content_type: str) -> None:
        """Store what `chunks` yields under `key`. Up to one part it is a single PUT after
        the stream ended; beyond, a multipart upload, aborted if the stream or the store
        fails, so a failed upload leaves no object (the error propagates)."""
        client = await self._client()
        part_size = self.settings.part_size_bytes
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async for chunk in chunks:
                buffer += chunk
                if len(buffer) >= part_size:
                    if upload_id is None:
                        upload_id = await self._begin_multipart(key, content_type)
                    parts.append(await self._upload_part(key, upload_id, len(parts) + 1, buffer))
                    buffer.clear()
            with _store_errors("put", key):
                if upload_id is None:
                    await client.put_object(
                        Bucket=self.bucket, Key=key, Body=bytes(buffer), ContentType=content_type
                    )
                    return
                if buffer:
                    parts.append(await self._upload_part(key, upload_id, len(parts) + 1, buffer))
                await client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": cast(Any, parts)},
                )
        except BaseException:
            if upload_id is not None:
                await self._abort_multipart(key, upload_id)
            raise

    async def open(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes as a stream. The request is made here, so an unreachable
        store or a missing object is an error before the caller starts answering."""
        client = await self._client()
        with _store_errors("get", key):
            response = await client.get_object(Bucket=self.bucket, Key=key)
        return _body_chunks(response["Body"], key)

    async def size_of(self, key: str) -> int:
        """The stored size (a HEAD request); raises like `open`."""
        client = await self._client()
        with _store_errors("head", key):
            head = await client.head_object(Bucket=self.bucket, Key=key)
        return int(head["ContentLength"])

    async def delete(self, key: str) -> None:
        client = await self._client()
        with _store_errors("delete", key):
            await client.delete_object(Bucket=self.bucket, Key=key)

    async def keys_under(self, prefix: str) -> list[str]:
        """Every key starting with `prefix` (for checks and orphan sweeps)."""
        client = await self._client()
        keys: list[str] = []
        with _store_errors("list", prefix):
            paginator = client.get_paginator("list_objects_v2")
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                keys += [item["Key"] for item in page.get("Contents", []) if "Key" in item]
        return keys

    async def unfinished_uploads(self, prefix: str) -> list[str]:
        """Keys under `prefix` with a multipart upload begun and neither completed nor
        aborted (what an interrupted upload may leave)."""
        client = await self._client()
        with _store_errors("list", prefix):
            listed = await client.list_multipart_uploads(Bucket=self.bucket, Prefix=prefix)
        return [upload["Key"] for upload in listed.get("Uploads", []) if "Key" in upload]

    async def ensure_bucket(self) -> None:
        client = await self._client()
        from botocore.exceptions import ClientError

        with _store_errors("create bucket", self.bucket):
            try:
                await client.head_bucket(Bucket=self.bucket)
            except ClientError as error:
                if _error_code(error) not in _MISSING_CODES | {"NoSuchBucket"}:
                    raise
                await client.create_bucket(Bucket=self.bucket)
                log.info("objectstore.bucket_created", bucket=self.bucket)

    async def _begin_multipart(self, key: str, content_type: str) -> str:
        client = await self._client()
        with _store_errors("put", key):
            started = await client.create_multipart_upload(
                Bucket=self.bucket, Key=key, ContentType=content_type
            )
        return started["UploadId"]

    async def _upload_part(
        self, key: str, upload_id: str, number: int, data: bytearray
    ) -> dict[str, Any]:
        client = await self._client()
        with _store_errors("put", key):
            part = await client.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=bytes(data)
            )
        return {"PartNumber": number, "ETag": part["ETag"]}

    async def _abort_multipart(self, key: str, upload_id: str) -> None:
        # Best effort: an abort that fails leaves parts the bucket's lifecycle rule for
        # incomplete multipart uploads removes (docs/attachments.md).
        client = await self._client()
        try:
            with _store_errors("abort", key):
                await client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except (ObjectStoreUnavailable, StoredObjectMissing):
            log.warning("objectstore.abort_failed", key=key)

    async def _client(self) -> S3Client:
        async with self._lock:
            client = self._s3
            if client is None:
                client = cast("S3Client", await self._stack.enter_async_context(self._new_client()))
                self._s3 = client
            return client

    def _new_client(self) -> Any:
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session

        s = self.settings
        config = AioConfig(
            connect_timeout=s.connect_timeout_seconds,
            read_timeout=s.read_timeout_seconds,
            retries={"max_attempts": s.max_attempts, "mode": "standard"},
            signature_version="s3v4",
            # Path-style keys and no default request checksums: what S3-compatible
            # stores such as SeaweedFS and MinIO accept, as AWS S3 does.
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        return get_session().create_client(
            "s3",
            endpoint_url=s.endpoint_url,
            region_name=s.region,
            aws_access_key_id=s.access_key_id.get_secret_value() or None,
            aws_secret_access_key=s.secret_access_key.get_secret_value() or None,
            config=config,
        )


async def _body_chunks(body: Any, key: str) -> AsyncIterator[bytes]:
    async with body:
        with _store_errors("get", key):
            async for chunk in body.iter_chunks(READ_CHUNK_BYTES):
                yield chunk


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@contextmanager
def _store_errors(action: str, key: str) -> Iterator[None]:
    """The store's failures as our domain errors; the message never carries secrets."""
    import aiohttp
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as error:
        code = _error_code(error)
        if code in _MISSING_CODES:
            raise StoredObjectMissing("a stored attachment's content is missing") from error
        log.warning("objectstore.refused", action=action, key=key, code=code)
        raise ObjectStoreUnavailable(
            "the attachment store refused the request", action=action, store_code=code
        ) from error
    except (BotoCoreError, aiohttp.ClientError, TimeoutError) as error:
        log.warning("objectstore.unreachable", action=action, key=key, error=type(error).__name__)
        raise ObjectStoreUnavailable(
            "the attachment store is not reachable; try again later", action=action
        ) from error
