"""Object storage over the S3 API (R2, MinIO, SeaweedFS) through the minio SDK.

One `ObjectStorage` talks to one bucket. Server calls go to `endpoint`. Presigned URLs are signed
for `public_endpoint`, the address uploaders reach, because the URL's host is part of the
signature; signing is offline (`presign.Presigner`, the URLs minio would build).
"""

import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote, urlsplit

import urllib3
from minio import Minio
from minio.commonconfig import CopySource
from minio.deleteobjects import DeleteObject
from minio.error import MinioException, S3Error

from steve_lite.errors import StorageError
from steve_lite.storage.presign import Presigner

SERVER_TIMEOUT = urllib3.Timeout(connect=3.0, read=30.0)
SERVER_RETRIES = urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504))
PING_TIMEOUT = urllib3.Timeout(connect=1.0, read=2.0)
CLIENT_ERRORS = (MinioException, urllib3.exceptions.HTTPError)


class ObjectNotFoundError(StorageError):
    """The requested object does not exist."""


class ObjectTooLargeError(StorageError):
    """The object is larger than the caller agreed to read."""


class ObjectChangedError(StorageError):
    """The object's ETag is no longer the one the caller named (HTTP 412)."""


@dataclass(frozen=True)
class ObjectHead:
    """An object's total size, its leading bytes and its ETag (None for an empty object)."""

    size: int
    head: bytes
    etag: str | None


@dataclass(frozen=True)
class Endpoint:
    """A server address split into what the minio client needs."""

    host: str
    secure: bool

    @property
    def url(self) -> str:
        """The address as a URL, e.g. `http://127.0.0.1:8333`."""
        return f"{'https' if self.secure else 'http'}://{self.host}"


def parse_endpoint(endpoint: str, *, secure: bool) -> Endpoint:
    """Accept `host:port` or an http(s) URL; a URL's scheme overrides `secure`."""
    if "://" not in endpoint:
        return Endpoint(host=endpoint.rstrip("/"), secure=secure)
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"storage endpoint must be an http(s) URL or host:port: {endpoint!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"storage endpoint must be a bare server address: {endpoint!r}")
    return Endpoint(host=parts.netloc, secure=parts.scheme == "https")


def parse_total_size(content_range: str) -> int:
    """The total size from a `Content-Range: bytes 0-15/1234` header."""
    unit_and_range, _, total = content_range.partition("/")
    if not unit_and_range.startswith("bytes") or not total.isdigit():
        raise StorageError(f"unexpected Content-Range header: {content_range!r}")
    return int(total)


def build_client(
    endpoint: Endpoint,
    http: urllib3.PoolManager,
    *,
    access_key: str,
    secret_key: str,
    region: str,
) -> Minio:
    """A minio client for one endpoint, with a fixed region and its own connection pool."""
    return Minio(
        endpoint.host,
        access_key=access_key,
        secret_key=secret_key,
        secure=endpoint.secure,
        region=region,
        http_client=http,
    )


def release(response: urllib3.BaseHTTPResponse) -> None:
    """Give the connection back to the pool, dropping it when part of the body is unread."""
    if not response.closed:
        response.close()
    response.release_conn()


class ObjectStorage:
    """Presign, inspect, read and delete objects in one bucket."""

    def __init__(
        self,
        *,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        region: str = "auto",
        secure: bool = True,
        public_endpoint: str | None = None,
    ) -> None:
        self.bucket = bucket
        self._endpoint = parse_endpoint(endpoint, secure=secure)
        self._public_endpoint = (
            parse_endpoint(public_endpoint, secure=secure) if public_endpoint else self._endpoint
        )

        signing = {"access_key": access_key, "secret_key": secret_key, "region": region}
        self._server = build_client(
            self._endpoint,
            urllib3.PoolManager(timeout=SERVER_TIMEOUT, retries=SERVER_RETRIES, maxsize=10),
            **signing,
        )
        self._prober = build_client(
            self._endpoint,
            urllib3.PoolManager(timeout=PING_TIMEOUT, retries=False, maxsize=1),
            **signing,
        )
        self._presigner = Presigner(base_url=self._public_endpoint.url, bucket=bucket, **signing)

    @property
    def endpoint_url(self) -> str:
        """The address server calls go to, as a URL."""
        return self._endpoint.url

    def presign_put(self, key: str, expires: timedelta) -> str:
        """A URL that lets its holder PUT this one object until it expires (no network call)."""
        return self._presigner.presign("PUT", key, expires)

    def presign_get(self, key: str, expires: timedelta, *, content_type: str, filename: str) -> str:
        """A URL that lets its holder GET this one object until it expires (no network call).

        The answer's `Content-Type` is `content_type` and it comes as an attachment named
        `filename`, whatever the object was stored with: the signed `response-content-type` and
        `response-content-disposition` overrides (GetObject), so a browser never renders it.
        """
        overrides = {
            "response-content-disposition": f'attachment; filename="{filename}"',
            "response-content-type": content_type,
        }
        return self._presigner.presign("GET", key, expires, response_headers=overrides)

    def object_url(self, key: str) -> str:
        """The object's path-style address on the public endpoint: `{url}/{bucket}/{key}`.

        It names the object (the contract's `r2Url`); it is not a credential and grants no access.
        """
        return f"{self._public_endpoint.url}/{quote(self.bucket)}/{quote(key)}"

    def read_head(self, key: str, length: int = 16) -> ObjectHead | None:
        """The object's size and first `length` bytes from one ranged GET; None when missing."""
        if length < 1:
            raise ValueError("read_head needs a length of at least one byte")
        action = f"reading the head of {key!r}"
        try:
            response = self._server.get_object(self.bucket, key, offset=0, length=length)
        except S3Error as exc:
            if exc.code == "NoSuchKey":
                return None
            if exc.code == "InvalidRange":  # any range on a zero-byte object
                return ObjectHead(size=0, head=b"", etag=None)
            raise self._failure(action, exc) from exc
        except CLIENT_ERRORS as exc:
            raise self._failure(action, exc) from exc
        try:
            etag = response.headers["ETag"]
            content_range = response.headers.get("Content-Range")
            if content_range is not None:
                size = parse_total_size(content_range)
                return ObjectHead(size=size, head=response.read(), etag=etag)
            # The server ignored the range and sends the whole object: read only what we need.
            size = int(response.headers["Content-Length"])
            return ObjectHead(size=size, head=response.read(length), etag=etag)
        except (KeyError, ValueError) as exc:
            raise StorageError(f"{action}: the answer gave no object size or ETag") from exc
        except CLIENT_ERRORS as exc:
            raise self._failure(action, exc) from exc
        finally:
            release(response)

    def download(self, key: str, max_bytes: int, *, etag: str | None = None) -> bytes:
        """The whole object; one larger than `max_bytes` is refused without being read.

        With `etag`, the read is conditional (`If-Match`): another version of the object raises
        :class:`ObjectChangedError` instead of being read.
        """
        action = f"downloading {key!r}"
        conditions: dict[str, str | list[str] | tuple[str]] | None = (
            {"If-Match": etag} if etag else None
        )
        try:
            response = self._server.get_object(self.bucket, key, request_headers=conditions)
        except S3Error as exc:
            if exc.code == "NoSuchKey":
                raise ObjectNotFoundError(f"object {key!r} does not exist") from None
            if exc.code == "PreconditionFailed":
                raise ObjectChangedError(f"object {key!r} is no longer ETag {etag}") from None
            raise self._failure(action, exc) from exc
        except CLIENT_ERRORS as exc:
            raise self._failure(action, exc) from exc
        try:
            declared = response.headers.get("Content-Length")
            if declared is not None and int(declared) > max_bytes:
                raise ObjectTooLargeError(
                    f"object {key!r} is {declared} bytes, more than the {max_bytes} allowed"
                )
            data = response.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise ObjectTooLargeError(
                    f"object {key!r} is more than the {max_bytes} bytes allowed"
                )
            return data
        except CLIENT_ERRORS as exc:
            raise self._failure(action, exc) from exc
        finally:
            release(response)

    def copy_if_unchanged(self, source_key: str, target_key: str, etag: str) -> str:
        """Server-side copy (CopyObject) of `source_key` to `target_key`, only while the source
        still has this `etag` (`x-amz-copy-source-if-match`); the copy's ETag.

        A source with another ETag raises :class:`ObjectChangedError`, a missing one
        :class:`ObjectNotFoundError`; nothing is written then.
        """
        action = f"copying {source_key!r} to {target_key!r}"
        source = CopySource(self.bucket, source_key, match_etag=etag)
        try:
            result = self._server.copy_object(self.bucket, target_key, source)
        except S3Error as exc:
            if exc.code == "NoSuchKey":
                raise ObjectNotFoundError(f"object {source_key!r} does not exist") from None
            if exc.code == "PreconditionFailed":
                raise ObjectChangedError(
                    f"object {source_key!r} is no longer ETag {etag}"
                ) from None
            raise self._failure(action, exc) from exc
        except CLIENT_ERRORS as exc:
            raise self._failure(action, exc) from exc
        if not result.etag:
            raise StorageError(f"{action}: the answer gave no ETag")
        return f'"{result.etag}"'  # minio drops the quotes the ETag header has

    def delete(self, keys: Iterable[str]) -> None:
        """Delete these objects in batches; keys that do not exist are not an error."""
        try:
            errors = list(
                self._server.remove_objects(self.bucket, (DeleteObject(key) for key in keys))
            )
        except CLIENT_ERRORS as exc:
            raise self._failure("deleting objects", exc) from exc
        if errors:
            first = errors[0]
            raise StorageError(
                f"deleting objects on {self._endpoint.url} failed for {len(errors)} key(s), "
                f"first {first.name!r}: {first.code}: {first.message}"
            )

    def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist yet."""
        action = f"creating bucket {self.bucket!r}"
        try:
            if not self._server.bucket_exists(self.bucket):
                self._server.make_bucket(self.bucket)
        except S3Error as exc:
            if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise self._failure(action, exc) from exc
        except CLIENT_ERRORS as exc:
            raise self._failure(action, exc) from exc

    def ping(self) -> bool:
        """True when the server answers within a few seconds and the bucket exists; never raises."""
        try:
            return self._prober.bucket_exists(self.bucket)
        except Exception:
            return False

    def upload(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` as object ``key`` (server side: restores, never the request path)."""
        try:
            self._server.put_object(
                self.bucket, key, io.BytesIO(data), len(data), content_type=content_type
            )
        except CLIENT_ERRORS as exc:
            raise self._failure(f"uploading {key!r}", exc) from exc

    def _failure(self, action: str, exc: Exception) -> StorageError:
        """A StorageError naming what failed and why, without credentials or signatures."""
        if isinstance(exc, S3Error):
            reason = f"S3 error {exc.code}: {exc.message}"
        elif isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
            reason = f"server unreachable ({type(exc.reason).__name__})"
        else:
            reason = type(exc).__name__
        return StorageError(f"{action} on {self._endpoint.url} failed: {reason}")
