"""Throwaway PostgreSQL servers for tests and benchmarks: a cluster, a streaming replica
of it, and a PgBouncer in front of a server, all from the local binaries.

Used by this project's own fixtures and ``benchmarks.scale``, and usable by a service's
tests (routing to replicas, transaction pooling) the same way::

    with cluster() as primary, replica_of(primary) as replica:
        db = connect(primary.url(), replicas=[replica.url()])

Needs PostgreSQL's server binaries (``initdb``, ``pg_ctl``, ``pg_basebackup``: Debian's
``postgresql`` package) and, for `pgbouncer`, Debian's ``pgbouncer`` package. When run as
root, the servers run as the ``postgres`` user (both refuse root). Every server listens
on 127.0.0.1 only, on a free port, trusts local connections and lives in a temporary
directory that is removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Cluster",
    "PgBouncer",
    "cluster",
    "free_port",
    "pgbouncer",
    "pgbouncer_binary",
    "postgres_bindir",
    "replica_of",
]


def postgres_bindir() -> Path | None:
    """The newest local PostgreSQL server binaries (``initdb`` and friends), if any."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    found = next((c for c in candidates if (c / "initdb").exists()), None)
    if found is None and shutil.which("initdb"):
        found = Path(shutil.which("initdb") or "").parent
    return found


def pgbouncer_binary() -> Path | None:
    """The local ``pgbouncer`` binary, if installed."""
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/sbin")
    return Path(found) if found else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run_as() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _workdir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(path, "postgres")
    return path


def _wait_for_port(
    port: int, seconds: float = 30.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode}) before listening")
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {seconds:.0f}s")


@dataclass
class Cluster:
    """One running PostgreSQL server in a directory of its own."""

    bindir: Path
    workdir: Path
    port: int
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def data(self) -> Path:
        return self.workdir / "data"

    def url(self, database: str = "postgres") -> str:
        """A URL connecting as the ``postgres`` superuser (trusted, no password)."""
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*_run_as(), str(self.bindir / "pg_ctl"), "-D", str(self.data), *args],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        options = [f"-p {self.port}", f"-k {self.workdir}", "-c listen_addresses=127.0.0.1"]
        options += [f"-c {k}={v}" for k, v in self.settings.items()]
        log = str(self.workdir / "server.log")
        self._pg_ctl("-o", " ".join(options), "-l", log, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate``: as if it crashed)."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self._pg_ctl("-m", mode, "-w", "stop")

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.workdir, ignore_errors=True)


@contextlib.contextmanager
def cluster(settings: Mapping[str, str] | None = None) -> Iterator[Cluster]:
    """A new cluster (``initdb``, trust authentication), running until the block ends.

    Raises:
        FileNotFoundError: no local PostgreSQL server binaries.
    """
    bindir = postgres_bindir()
    if bindir is None:
        raise FileNotFoundError("no PostgreSQL server binaries (initdb): install postgresql")
    workdir = _workdir("connectors-pg-")
    server = Cluster(bindir, workdir, free_port(), dict(settings or {}))
    try:
        subprocess.run(
            [
                *_run_as(),
                str(bindir / "initdb"),
                "-D",
                str(server.data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
        server.start()
        yield server
    finally:
        server.destroy()


@contextlib.contextmanager
def replica_of(primary: Cluster) -> Iterator[Cluster]:
    """A streaming replica of `primary` (``pg_basebackup -R``), running until the block
    ends: read-only, and it replays the primary's writes a moment after they commit."""
    workdir = _workdir("connectors-replica-")
    replica = Cluster(primary.bindir, workdir, free_port(), dict(primary.settings))
    try:
        subprocess.run(
            [
                *_run_as(),
                str(primary.bindir / "pg_basebackup"),
                "-h",
                "127.0.0.1",
                "-p",
                str(primary.port),
                "-U",
                "postgres",
                "-D",
                str(replica.data),
                "-R",  # standby.signal + primary_conninfo: a streaming standby
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
        replica.start()
        yield replica
    finally:
        replica.destroy()


@dataclass
class PgBouncer:
    """A running PgBouncer in front of one PostgreSQL server."""

    port: int
    workdir: Path
    process: subprocess.Popen[bytes]

    def url(self, database: str, user: str = "postgres") -> str:
        return f"postgresql+psycopg2://{user}@127.0.0.1:{self.port}/{database}"

    @property
    def log(self) -> str:
        try:
            return (self.workdir / "pgbouncer.log").read_text(errors="replace")
        except OSError:
            return ""


@contextlib.contextmanager
def pgbouncer(
    server_port: int,
    server_host: str = "127.0.0.1",
    server_user: str = "postgres",
    server_password: str | None = None,
    pool_mode: str = "transaction",
    pool_size: int = 10,
    settings: Mapping[str, str] | None = None,
) -> Iterator[PgBouncer]:
    """PgBouncer on a free port, every database (``*``) pooled to the server's namesake.

    Clients are trusted (any user listed: `server_user`); the pool connects as
    `server_user`. Transaction pooling by default: a server connection belongs to a
    client for one transaction only, so nothing a client leaves in a session (``SET``,
    prepared statements, temp tables, cursors outside a transaction) may be relied on.
    `settings` adds lines to its ``[pgbouncer]`` section.

    Raises:
        FileNotFoundError: no ``pgbouncer`` binary (Debian's ``pgbouncer`` package).
    """
    binary = pgbouncer_binary()
    if binary is None:
        raise FileNotFoundError("no pgbouncer binary: install Debian's pgbouncer package")
    workdir = _workdir("connectors-pgbouncer-")
    port = free_port()
    login = f"user={server_user}" + (f" password={server_password}" if server_password else "")
    (workdir / "userlist.txt").write_text(f'"{server_user}" ""\n')
    (workdir / "pgbouncer.ini").write_text(
        "\n".join(
            [
                "[databases]",
                f"* = host={server_host} port={server_port} {login}",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {port}",
                f"unix_socket_dir = {workdir}",
                "auth_type = trust",
                f"auth_file = {workdir / 'userlist.txt'}",
                f"logfile = {workdir / 'pgbouncer.log'}",
                f"pool_mode = {pool_mode}",
                f"default_pool_size = {pool_size}",
                "max_client_conn = 500",
                f"admin_users = {server_user}",
                "server_idle_timeout = 30",
                *(f"{k} = {v}" for k, v in (settings or {}).items()),
                "",
            ]
        )
    )
    if os.geteuid() == 0:
        for path in workdir.iterdir():
            shutil.chown(path, "postgres")
    process = subprocess.Popen(
        [*_run_as(), str(binary), str(workdir / "pgbouncer.ini")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: stopped with runuser around it
    )
    bouncer = PgBouncer(port, workdir, process)
    try:
        _wait_for_port(port, process=process)
        yield bouncer
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)  # PgBouncer: immediate shutdown
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)
