"""ObjectStorage against a real embedded SeaweedFS server on 127.0.0.1."""

import hashlib
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from steve_lite.storage.embedded import EmbeddedS3
from steve_lite.storage.s3 import (
    ObjectChangedError,
    ObjectHead,
    ObjectNotFoundError,
    ObjectStorage,
    ObjectTooLargeError,
    StorageError,
)

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
TEN_MINUTES = timedelta(minutes=10)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """An HTTP client that ignores proxy settings, so requests stay on loopback."""
    with httpx.Client(trust_env=False, timeout=10) as client:
        yield client


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def presign_download(storage: ObjectStorage, key: str) -> str:
    return storage.presign_get(key, TEN_MINUTES, content_type="image/png", filename="file.png")


def upload(http: httpx.Client, storage: ObjectStorage, key: str, data: bytes) -> None:
    """Upload through a presigned PUT, as an integrator would."""
    response = http.put(storage.presign_put(key, TEN_MINUTES), content=data)
    assert response.status_code == 200, response.text


def with_changed_signature(url: str) -> str:
    """The same URL with one character of its X-Amz-Signature changed."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    signature = query["X-Amz-Signature"]
    query["X-Amz-Signature"] = ("0" if signature[0] != "0" else "1") + signature[1:]
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_presigned_put_uploads_and_read_head_gives_size_and_leading_bytes(
    object_storage: ObjectStorage, http: httpx.Client
) -> None:
    upload(http, object_storage, "company/session/0", PNG_BYTES)

    head = object_storage.read_head("company/session/0")
    assert head == ObjectHead(size=1032, head=PNG_BYTES[:16], etag=f'"{md5(PNG_BYTES)}"')
    assert object_storage.read_head("company/session/0", length=4) == ObjectHead(
        size=1032, head=b"\x89PNG", etag=head.etag
    )


def test_presigned_urls_escape_keys_as_the_server_expects(
    object_storage: ObjectStorage, http: httpx.Client
) -> None:
    key = "odd key/ü~x+y=z&w"
    upload(http, object_storage, key, PNG_BYTES)
    assert object_storage.read_head(key) == ObjectHead(
        size=1032, head=PNG_BYTES[:16], etag=f'"{md5(PNG_BYTES)}"'
    )
    fetched = http.get(presign_download(object_storage, key))
    assert fetched.status_code == 200 and fetched.content == PNG_BYTES


def test_read_head_of_an_object_shorter_than_the_head(
    object_storage: ObjectStorage, http: httpx.Client
) -> None:
    upload(http, object_storage, "short", b"RIFF")

    assert object_storage.read_head("short") == ObjectHead(
        size=4, head=b"RIFF", etag=f'"{md5(b"RIFF")}"'
    )


def test_read_head_of_missing_and_empty_objects(
    object_storage: ObjectStorage, http: httpx.Client
) -> None:
    upload(http, object_storage, "empty", b"")

    assert object_storage.read_head("missing") is None
    assert object_storage.read_head("empty") == ObjectHead(size=0, head=b"", etag=None)


def test_curl_uploads_to_a_presigned_url(object_storage: ObjectStorage, tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(PNG_BYTES)
    url = object_storage.presign_put("by-curl", TEN_MINUTES)
    curl_options = ["--noproxy", "*", "--fail", "--silent", "--show-error"]

    subprocess.run(
        ["curl", *curl_options, "--upload-file", str(photo), url], check=True, timeout=30
    )

    assert object_storage.read_head("by-curl") == ObjectHead(
        size=1032, head=PNG_BYTES[:16], etag=f'"{md5(PNG_BYTES)}"'
    )


def test_put_with_a_changed_signature_is_refused(
    object_storage: ObjectStorage, http: httpx.Client
) -> None:
    url = with_changed_signature(object_storage.presign_put("forged", TEN_MINUTES))

    response = http.put(url, content=PNG_BYTES)

    assert response.status_code == 403
    assert "SignatureDoesNotMatch" in response.text
    assert object_storage.read_head("forged") is None


def test_put_after_the_url_expired_is_refused(
    object_storage: ObjectStorage, http: httpx.Client
) -> None:
    url = object_storage.presign_put("late", timedelta(seconds=1))
    time.sleep(2.1)  # signing time is truncated to the second: this is past the expiry

    response = http.put(url, content=PNG_BYTES)

    assert response.status_code == 403
    assert object_storage.read_head("late") is None


def test_presigned_get_downloads_and_a_changed_signature_is_refused(
    object_storage: ObjectStorage, http: httpx.Client
) -> None:
    upload(http, object_storage, "to-read", PNG_BYTES)
    url = presign_download(object_storage, "to-read")

    assert http.get(url).content == PNG_BYTES
    assert http.get(with_changed_signature(url)).status_code == 403


def test_download_reads_whole_objects_up_to_the_limit(
    object_storage: ObjectStorage, http: httpx.Client
) -> None:
    upload(http, object_storage, "photo", PNG_BYTES)
    upload(http, object_storage, "empty", b"")

    assert object_storage.download("photo", max_bytes=1032) == PNG_BYTES
    assert object_storage.download("empty", max_bytes=1) == b""
    with pytest.raises(ObjectTooLargeError, match="1032 bytes"):
        object_storage.download("photo", max_bytes=1031)
    with pytest.raises(ObjectNotFoundError):
        object_storage.download("missing", max_bytes=1032)
    # The refused read did not spoil the connection pool for the next call.
    assert object_storage.read_head("photo") == ObjectHead(
        size=1032, head=PNG_BYTES[:16], etag=f'"{md5(PNG_BYTES)}"'
    )


def test_a_conditional_download_refuses_another_version(
    object_storage: ObjectStorage, http: httpx.Client
) -> None:
    upload(http, object_storage, "photo", PNG_BYTES)
    head = object_storage.read_head("photo")
    assert head is not None and head.etag is not None
    assert object_storage.download("photo", max_bytes=1032, etag=head.etag) == PNG_BYTES

    upload(http, object_storage, "photo", PNG_BYTES[::-1])  # the same size, other bytes

    with pytest.raises(ObjectChangedError):  # the server answered 412 Precondition Failed
        object_storage.download("photo", max_bytes=1032, etag=head.etag)
    assert object_storage.download("photo", max_bytes=1032) == PNG_BYTES[::-1]


def test_copy_if_unchanged_copies_the_version_it_names_and_nothing_else(
    object_storage: ObjectStorage, http: httpx.Client
) -> None:
    upload(http, object_storage, "upload", PNG_BYTES)
    head = object_storage.read_head("upload")
    assert head is not None and head.etag is not None

    etag = object_storage.copy_if_unchanged("upload", "sealed/upload", head.etag)

    assert etag == head.etag
    assert object_storage.download("sealed/upload", max_bytes=1032, etag=etag) == PNG_BYTES
    upload(http, object_storage, "upload", b"\x89PNG\r\n\x1a\n<html>")
    with pytest.raises(ObjectChangedError):  # refused: 412 on x-amz-copy-source-if-match
        object_storage.copy_if_unchanged("upload", "sealed/other", head.etag)
    assert object_storage.read_head("sealed/other") is None  # nothing was written
    with pytest.raises(ObjectNotFoundError):
        object_storage.copy_if_unchanged("missing", "sealed/missing", head.etag)
    assert object_storage.download("sealed/upload", max_bytes=1032) == PNG_BYTES


def test_presigned_get_forces_its_content_type_and_an_attachment(
    object_storage: ObjectStorage, http: httpx.Client
) -> None:
    polyglot = PNG_BYTES + b"<html><script>alert(1)</script></html>"
    url = object_storage.presign_put("page", TEN_MINUTES)
    stored = http.put(url, content=polyglot, headers={"Content-Type": "text/html"})
    assert stored.status_code == 200

    fetched = http.get(
        object_storage.presign_get(
            "page", TEN_MINUTES, content_type="image/png", filename="sub_1-0.png"
        )
    )

    assert fetched.status_code == 200 and fetched.content == polyglot
    assert fetched.headers["content-type"] == "image/png"
    assert fetched.headers["content-disposition"] == 'attachment; filename="sub_1-0.png"'
    changed = presign_download(object_storage, "page").replace("image%2Fpng", "text%2Fhtml")
    assert http.get(changed).status_code == 403  # the override is signed


def test_delete_removes_objects_and_ignores_missing_keys(
    object_storage: ObjectStorage, http: httpx.Client
) -> None:
    for key in ("a/0", "a/1", "b/0"):
        upload(http, object_storage, key, PNG_BYTES)

    object_storage.delete(["a/0", "a/1", "never-existed"])
    object_storage.delete([])

    assert object_storage.read_head("a/0") is None
    assert object_storage.read_head("a/1") is None
    assert object_storage.read_head("b/0") == ObjectHead(
        size=1032, head=PNG_BYTES[:16], etag=f'"{md5(PNG_BYTES)}"'
    )


def test_ensure_bucket_creates_once_and_is_idempotent(embedded_s3: EmbeddedS3) -> None:
    storage = embedded_s3.storage(bucket="created-by-ensure-bucket")
    assert storage.ping() is False  # the server answers, but the bucket is not there yet

    storage.ensure_bucket()
    storage.ensure_bucket()

    assert storage.ping() is True


def test_a_dead_server_gives_ping_false_and_a_storage_error_without_secrets(
    closed_port: int,
) -> None:
    storage = ObjectStorage(
        endpoint=f"http://127.0.0.1:{closed_port}",
        access_key="AKIDEXAMPLE",
        secret_key="wJalrXUtnFEMI-secret",
        bucket="anything",
        region="us-east-1",
    )

    assert storage.ping() is False
    with pytest.raises(StorageError) as raised:
        storage.read_head("some/key")

    message = str(raised.value)
    assert f"127.0.0.1:{closed_port}" in message
    assert "some/key" in message
    assert "wJalrXUtnFEMI-secret" not in message
    assert "Signature" not in message


def test_presigning_needs_no_server(closed_port: int) -> None:
    storage = ObjectStorage(
        endpoint=f"127.0.0.1:{closed_port}",
        access_key="AKIDEXAMPLE",
        secret_key="wJalrXUtnFEMI-secret",
        bucket="uploads",
        region="auto",
        secure=False,
    )

    url = urlsplit(storage.presign_put("c/s/0", TEN_MINUTES))
    query = dict(parse_qsl(url.query))

    assert (url.scheme, url.netloc, url.path) == (
        "http",
        f"127.0.0.1:{closed_port}",
        "/uploads/c/s/0",
    )
    assert query["X-Amz-Credential"].endswith("/auto/s3/aws4_request")
    assert query["X-Amz-Expires"] == "600"


def test_public_endpoint_signs_urls_for_the_address_clients_reach(
    embedded_s3: EmbeddedS3, object_storage: ObjectStorage, http: httpx.Client
) -> None:
    port = embedded_s3.ports["s3"]
    public = embedded_s3.storage(
        bucket=object_storage.bucket, public_endpoint=f"http://localhost:{port}"
    )

    put_url = public.presign_put("via-localhost", TEN_MINUTES)
    assert urlsplit(put_url).netloc == f"localhost:{port}"
    assert http.put(put_url, content=PNG_BYTES).status_code == 200

    assert public.read_head("via-localhost") == ObjectHead(
        size=1032, head=PNG_BYTES[:16], etag=f'"{md5(PNG_BYTES)}"'
    )
    assert http.get(presign_download(public, "via-localhost")).content == PNG_BYTES
    assert public.object_url("via-localhost") == (
        f"http://localhost:{port}/{object_storage.bucket}/via-localhost"
    )


def test_a_url_signed_for_one_host_is_refused_on_another(
    embedded_s3: EmbeddedS3, object_storage: ObjectStorage, http: httpx.Client
) -> None:
    port = embedded_s3.ports["s3"]
    public = embedded_s3.storage(
        bucket=object_storage.bucket, public_endpoint=f"http://localhost:{port}"
    )
    signed_for_localhost = urlsplit(public.presign_put("wrong-host", TEN_MINUTES))

    sent_to_ip = urlunsplit(signed_for_localhost._replace(netloc=f"127.0.0.1:{port}"))

    assert http.put(sent_to_ip, content=PNG_BYTES).status_code == 403
    assert object_storage.read_head("wrong-host") is None


def test_object_url_names_bucket_and_key_on_the_endpoint(object_storage: ObjectStorage) -> None:
    url = object_storage.object_url("company/session 1/0")

    assert url == (f"{object_storage.endpoint_url}/{object_storage.bucket}/company/session%201/0")
    assert "X-Amz" not in url


@pytest.mark.parametrize(
    ("endpoint", "secure", "expected"),
    [
        ("http://127.0.0.1:8333", True, "http://127.0.0.1:8333"),
        ("https://acct.r2.cloudflarestorage.com", False, "https://acct.r2.cloudflarestorage.com"),
        ("127.0.0.1:8333", False, "http://127.0.0.1:8333"),
        ("storage.example:443", True, "https://storage.example:443"),
    ],
)
def test_endpoint_accepts_host_port_or_url(endpoint: str, secure: bool, expected: str) -> None:
    storage = ObjectStorage(
        endpoint=endpoint, access_key="a", secret_key="b", bucket="bucket", secure=secure
    )

    assert storage.endpoint_url == expected


@pytest.mark.parametrize("endpoint", ["ftp://host:21", "http://host:9000/prefix", "http://u:p@h"])
def test_endpoint_refuses_anything_but_a_bare_server_address(endpoint: str) -> None:
    with pytest.raises(ValueError, match="storage endpoint"):
        ObjectStorage(endpoint=endpoint, access_key="a", secret_key="b", bucket="bucket")
