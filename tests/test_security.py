"""Issue 12: who may log in to the embedded cluster, `sniper db stop` sticking, and secrets.

Real parts only: an embedded cluster whose data directory path is too long for a socket
in it (so the socket lives in /tmp), real `su`/`psql` as another user, real `sniper`
subprocesses with password-bearing SNIPER_DATABASE_URLs.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from sniper.db.embedded import MAX_SOCKET_DIR_LENGTH, EmbeddedCluster
from tests.conftest import REPO, SNIPER

AS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not AS_ROOT, reason="needs root: acts as another local user (nobody)")
LONG_NAME = "long_" + "x" * 80
ROOT_SERVER_USER = "embedded_postgres"  # as root, PostgreSQL runs as this system user
SERVER_USER = ROOT_SERVER_USER if AS_ROOT else pwd.getpwuid(os.geteuid()).pw_name
STOP_MARKER = "stopped-by-user"


def _child_env(state_dir: Path) -> dict[str, str]:
    """A `sniper` child that uses the embedded cluster under `state_dir` (no URL at all)."""
    env = {k: v for k, v in os.environ.items() if k != "SNIPER_DATABASE_URL"}
    return {**env, "SNIPER_DATA_DIR": str(state_dir)}


def _cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """conftest's run_cli, but with exactly `env`: run_cli adds it to this process's
    environment, and the children here must not inherit a SNIPER_DATABASE_URL or PG*."""
    return subprocess.run(
        [str(SNIPER), *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def _is_one_line(stderr: str) -> bool:
    return stderr.count("\n") == 1 and stderr.endswith("\n") and "Traceback" not in stderr


@pytest.fixture(scope="module")
def long_cluster():
    """A cluster whose pgdata path is over the socket limit: its socket lives in /tmp."""
    root = Path(tempfile.mkdtemp(prefix="sniper-sec-", dir="/tmp"))
    cluster = EmbeddedCluster(root / LONG_NAME / "pgdata")
    assert len(str(cluster.pgdata)) > MAX_SOCKET_DIR_LENGTH
    cluster.start()
    yield cluster
    cluster.stop()
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(cluster.socket_dir, ignore_errors=True)


def _psql_as_nobody(socket_dir: Path) -> subprocess.CompletedProcess:
    conninfo = f"host={socket_dir} user=postgres dbname=postgres connect_timeout=3"
    return subprocess.run(
        ["su", "-s", "/bin/sh", "nobody", "-c", f"psql '{conninfo}' -tAc 'select 42'"],
        capture_output=True, text=True, timeout=30, check=False,
    )


class _OpenedSocket:
    """The socket directory and socket opened to everyone, as if a mistake (or an older
    sniper) had left them so: only authentication stands between other users and the server."""

    def __init__(self, cluster: EmbeddedCluster):
        self.directory = cluster.socket_dir
        self.socket = self.directory / ".s.PGSQL.5432"

    def __enter__(self):
        self.modes = (stat.S_IMODE(os.stat(self.directory).st_mode), stat.S_IMODE(os.stat(self.socket).st_mode))
        os.chmod(self.directory, 0o755)
        os.chmod(self.socket, 0o777)
        return self

    def __exit__(self, *exc):
        os.chmod(self.socket, self.modes[1])
        os.chmod(self.directory, self.modes[0])


def _nobody_gets_in(cluster: EmbeddedCluster, *, wait_for: bool, seconds: float = 10) -> bool:
    """Whether `nobody` can log in through the opened socket; polls until it is `wait_for`
    (a reload of pg_hba.conf takes effect asynchronously) or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while True:
        with _OpenedSocket(cluster):
            gets_in = _psql_as_nobody(cluster.socket_dir).stdout.strip() == "42"
        if gets_in == wait_for or time.monotonic() > deadline:
            return gets_in
        time.sleep(0.5)


def test_long_path_socket_directory_is_private_to_the_server_user(long_cluster):
    socket_dir = long_cluster.socket_dir
    assert socket_dir != long_cluster.pgdata and str(socket_dir).startswith("/tmp/sniper-pg-")
    info = os.lstat(socket_dir)
    assert stat.S_ISDIR(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o700, oct(info.st_mode)
    assert pwd.getpwuid(info.st_uid).pw_name == SERVER_USER


@needs_root
def test_other_local_users_cannot_log_in(long_cluster):
    refused = _psql_as_nobody(long_cluster.socket_dir)
    assert refused.returncode != 0 and "42" not in refused.stdout, refused.stdout
    # Behind the directory, authentication: peer, mapping only the project's OS users.
    assert not _nobody_gets_in(long_cluster, wait_for=False, seconds=0)
    with psycopg.connect(long_cluster.conninfo("postgres")) as conn:
        methods = {row[0] for row in conn.execute("select auth_method from pg_hba_file_rules")}
        mapped = {row[0] for row in conn.execute("select sys_name from pg_ident_file_mappings")}
    assert methods == {"peer"}
    assert mapped == {"root", ROOT_SERVER_USER}


@needs_root
def test_a_cluster_left_with_trust_authentication_is_fixed(long_cluster):
    """What an older sniper left (initdb --auth=trust): fixed live by the next command, and
    on the next start."""
    hba = long_cluster.pgdata / "pg_hba.conf"
    env = _child_env(long_cluster.pgdata.parent)
    hba.write_text("local all all trust\n")
    with psycopg.connect(long_cluster.conninfo("postgres")) as conn:
        conn.execute("select pg_reload_conf()")
    assert _nobody_gets_in(long_cluster, wait_for=True), "the trust set-up did not take"
    status = _cli("db", "status", env=env)
    assert status.returncode == 0, status.stderr
    assert not _nobody_gets_in(long_cluster, wait_for=False), "a running server kept trust"

    hba.write_text("local all all trust\n")
    long_cluster.stop()
    started = _cli("db", "start", env=env)
    assert started.returncode == 0, started.stderr
    assert not _nobody_gets_in(long_cluster, wait_for=False), "a restarted server kept trust"


def test_a_socket_directory_others_could_write_to_is_made_again(long_cluster):
    long_cluster.stop()
    socket_dir = long_cluster.socket_dir
    os.chmod(socket_dir, 0o777)
    planted = socket_dir / "planted"
    planted.write_text("left by someone else\n")
    long_cluster.start()
    assert stat.S_IMODE(os.lstat(socket_dir).st_mode) == 0o700
    assert not planted.exists()
    with psycopg.connect(long_cluster.conninfo("postgres")) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


@needs_root
@pytest.mark.parametrize("bait", ["directory", "symlink"])
def test_a_socket_directory_planted_by_another_user_is_refused(bait):
    """/tmp/sniper-pg-<hash> is predictable: another user may create it (0777), or a symlink
    to a directory of theirs, before the cluster first starts."""
    root = Path(tempfile.mkdtemp(prefix="sniper-sec-", dir="/tmp"))
    cluster = EmbeddedCluster(root / LONG_NAME / "pgdata")
    socket_dir = cluster.socket_dir
    nobody = pwd.getpwnam("nobody")
    planted = socket_dir if bait == "directory" else Path(tempfile.mkdtemp(prefix="sniper-bait-", dir="/tmp"))
    try:
        if bait == "directory":
            os.mkdir(socket_dir)
        else:
            os.symlink(planted, socket_dir)
            os.lchown(socket_dir, nobody.pw_uid, nobody.pw_gid)
        os.chown(planted, nobody.pw_uid, nobody.pw_gid)
        os.chmod(planted, 0o777)

        result = _cli("db", "start", env=_child_env(cluster.pgdata.parent))

        assert result.returncode == 2, result.stdout + result.stderr
        assert _is_one_line(result.stderr), result.stderr
        assert f"refusing the socket directory {socket_dir}" in result.stderr
        assert not cluster.is_running()
        info = os.lstat(planted)
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (nobody.pw_uid, 0o777), "the bait was taken over"
        assert list(planted.iterdir()) == []
    finally:
        if cluster.is_running():
            cluster.stop()
        if socket_dir.is_symlink():
            socket_dir.unlink()
        shutil.rmtree(planted, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)


def test_a_stop_by_the_user_sticks_until_db_start(long_cluster):
    env = _child_env(long_cluster.pgdata.parent)
    long_cluster.start()
    stopped = _cli("db", "stop", env=env)
    assert stopped.returncode == 0, stopped.stderr
    marker = long_cluster.pgdata.parent / STOP_MARKER
    assert marker.exists()

    # Any command that connects (a backfill, say) used to start it again.
    refused = _cli("db", "migrate", env=env)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert _is_one_line(refused.stderr), refused.stderr
    assert "stopped with `sniper db stop`" in refused.stderr and "run `sniper db start`" in refused.stderr
    assert not long_cluster.is_running(), "`sniper db migrate` started the cluster again"
    status = _cli("db", "status", env=env)
    assert status.returncode == 0 and "stopped with `sniper db stop`" in " ".join(status.stdout.split())

    started = _cli("db", "start", env=env)
    assert started.returncode == 0, started.stderr
    assert not marker.exists() and long_cluster.is_running()
    with psycopg.connect(long_cluster.conninfo("sniper")) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


# A long-running process (a backfill, say) whose server goes away under it.
HOLDER = """
import sys
from sniper.db.connection import connect, database_errors
from sniper.errors import UserError

try:
    with database_errors():
        conn = connect(autocommit=True)
        conn.execute("select 1")
        print("connected", flush=True)
        sys.stdin.readline()
        conn.execute("select 1")
except UserError as error:
    print(f"sniper: error: {error}", file=sys.stderr)
    try:
        connect().close()
        print("reconnected", file=sys.stderr)
    except UserError as again:
        print(f"again: {again}", file=sys.stderr)
    sys.exit(2)
"""


@pytest.mark.parametrize("how", ["sniper db stop", "server gone"])
def test_a_connection_lost_mid_run_is_one_line(long_cluster, how):
    env = _child_env(long_cluster.pgdata.parent)
    long_cluster.start()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER], env=env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline().strip() == "connected"
        if how == "sniper db stop":
            assert _cli("db", "stop", env=env).returncode == 0
        else:
            long_cluster.stop()  # a crash, a reboot, someone's pg_ctl: not a user's `db stop`
        _, stderr = holder.communicate("\n", timeout=60)
    finally:
        holder.kill()
    lines = stderr.splitlines()
    assert holder.returncode == 2 and "Traceback" not in stderr, stderr
    if how == "sniper db stop":
        assert lines[0].startswith("sniper: error: the embedded database was stopped with `sniper db stop`")
        assert lines[1].startswith("again: the embedded database was stopped with `sniper db stop`")
        assert not long_cluster.is_running()
    else:
        assert lines[0].startswith("sniper: error: lost the connection to database user=postgres"), stderr
        assert lines[1] == "reconnected"  # no user stop: the next use starts it, as on first use
    _cli("db", "start", env=env)


# --- secrets: every command, password-bearing URLs, nothing printed or written anywhere ---

SECRETS = {
    "percent sign": "Pct%S3cretPw1",
    "unclosed IPv6 bracket": "S3cretPw2",
    "unreachable": "S3cretPw3",
    "reachable": "S3cretPw4",
}
# What each secret looks like in the URL (a literal % is malformed, on purpose).
URLS = {
    "percent sign": "postgresql://postgres:{secret}@127.0.0.1:1/nowhere",
    "unclosed IPv6 bracket": "postgresql://postgres:{secret}@[::1/nowhere",
    "unreachable": "postgresql://postgres:{secret}@127.0.0.1:1/nowhere?connect_timeout=2",
    "reachable": "postgresql://sniper_pw:{secret}@/pwdb?host={socket_dir}&connect_timeout=3",
}
RECORDING = (
    '1723161254087896568 {"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT",'
    '"t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}\n'
)
COMMANDS = {
    "db status": ["db", "status"],
    "db url": ["db", "url"],
    "db start": ["db", "start"],
    "db migrate": ["db", "migrate"],
    "status": ["status"],
    "backfill plan": ["backfill", "plan"],
    "backfill run": ["backfill", "run"],
    "train": ["train"],
    "ingest ledger": ["ingest", "ledger"],
    "report": ["report"],
    "dbt debug": ["dbt", "debug"],
    "dbt run": ["dbt", "run", "--select", "stg_raw__trades"],
    "synth": ["synth", "--days", "1", "--symbols", "BTCUSDT", "--trades-per-day", "200"],
    "ingest recording": ["ingest", "recording", "{recording}"],
}
# Commands left out of a kind, for time (a `sniper` process costs ~2 s of CPU to start, one
# that runs dbt ~6 s). A malformed URL fails in resolve_target whichever command asks (dbt
# included: it resolves before dbt starts), so the percent sign runs one command per path
# that reports it (the CLI's own, a loader, the two Prefect flows) and the unclosed
# bracket, which differs only in the URL to mask, two. On a reachable server the flows
# would materialize and train for minutes, `db start` is `db migrate`'s path, and
# `report` needs a training run.
SKIPPED = {
    "percent sign": set(COMMANDS) - {"db url", "db status", "synth", "backfill run", "train"},
    "unclosed IPv6 bracket": set(COMMANDS) - {"db url", "db status"},
    "reachable": {"train", "backfill run", "db start", "report"},
}


def _project_copy(into: Path) -> Path:
    """The dbt project, models of the staging layer only (parsing stays quick), in its own
    directory: dbt's logs/ and target/ and the reports land there, to be searched."""
    into.mkdir(parents=True)
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(REPO / name, into / name)
    shutil.copytree(REPO / "macros", into / "macros")
    shutil.copytree(REPO / "models" / "staging", into / "models" / "staging")
    return into


def _reachable_user(cluster: EmbeddedCluster, secret: str) -> None:
    """A password (scram) login for one role over the cluster's socket, ahead of peer."""
    with psycopg.connect(cluster.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f"create role sniper_pw login superuser password '{secret}'")
        conn.execute("create database pwdb owner sniper_pw")
        hba = cluster.pgdata / "pg_hba.conf"
        hba.write_text("local all sniper_pw scram-sha-256\n" + hba.read_text())
        conn.execute("select pg_reload_conf()")
    deadline = time.monotonic() + 10
    url = URLS["reachable"].format(secret=secret, socket_dir=cluster.socket_dir)
    while True:
        try:
            psycopg.connect(url).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _core(secret: str) -> str:
    """The part of a secret after its last %: what a parse error quoting a piece would show."""
    return secret.split("%")[-1]


def _files_holding(secret: str, *roots: Path) -> list[str]:
    needle = secret.encode()
    return [
        str(path) for root in roots for path in root.rglob("*")
        if path.is_file() and not path.is_symlink() and needle in path.read_bytes()
    ]


@pytest.fixture(scope="module")
def secret_runs(long_cluster):
    """Every command under every kind of URL, in parallel; a kind's dbt commands in turn
    (they share its project directory)."""
    long_cluster.start()
    _reachable_user(long_cluster, SECRETS["reachable"])
    work = Path(tempfile.mkdtemp(prefix="sniper-secrets-", dir="/tmp"))
    recording = work / "capture.txt"
    recording.write_text(RECORDING)
    environments = {}
    for kind, secret in SECRETS.items():
        home = work / kind
        _project_copy(home / "project")
        (home / "prefect").mkdir()
        environments[kind] = {
            # No PREFECT_API_URL (tests/conftest.py): each command's flows start their own
            # temporary server, whose database lies in PREFECT_HOME below and is searched too.
            **{k: v for k, v in os.environ.items() if not k.startswith(("PG", "SNIPER_", "PREFECT_API_URL"))},
            "SNIPER_DATABASE_URL": URLS[kind].format(secret=secret, socket_dir=long_cluster.socket_dir),
            "SNIPER_PROJECT_DIR": str(home / "project"),
            "SNIPER_DATA_DIR": str(home / "state"),
            "PREFECT_HOME": str(home / "prefect"),
        }
    jobs = []
    for kind in SECRETS:
        names = [name for name in COMMANDS if name not in SKIPPED.get(kind, ())]
        dbt = [name for name in names if name.startswith("dbt ")]
        jobs += [(kind, [name]) for name in names if name not in dbt] + ([(kind, dbt)] if dbt else [])

    def run(job):
        kind, names = job
        return [
            (kind, name, _cli(*(arg.format(recording=recording) for arg in COMMANDS[name]),
                              env=environments[kind], timeout=180))
            for name in names
        ]

    with ThreadPoolExecutor(max_workers=4) as pool:
        finished = [result for batch in pool.map(run, jobs) for result in batch]
    outcome = {}
    for kind, secret in SECRETS.items():
        results = {name: result for k, name, result in finished if k == kind}
        outcome[kind] = (results, _files_holding(_core(secret), work / kind))
    yield outcome
    shutil.rmtree(work, ignore_errors=True)


@pytest.mark.parametrize("kind", list(SECRETS))
def test_no_command_prints_or_writes_the_password(secret_runs, kind):
    results, files_with_secret = secret_runs[kind]
    core = _core(SECRETS[kind])
    printed = [name for name, result in results.items() if core in result.stdout + result.stderr]
    assert printed == [], {name: results[name].stdout + results[name].stderr for name in printed}
    assert files_with_secret == []


@pytest.mark.parametrize(
    ("kind", "command"),
    [
        (kind, command)
        for kind in ("percent sign", "unclosed IPv6 bracket", "unreachable")
        for command in COMMANDS
        if command not in SKIPPED.get(kind, ()) and not (kind == "unreachable" and command == "db url")
    ],
)
def test_a_bad_or_unreachable_database_is_one_line_exit_2(secret_runs, kind, command):
    result = secret_runs[kind][0][command]
    assert result.returncode == 2, result.stdout + result.stderr
    assert _is_one_line(result.stderr), result.stderr
    assert "Traceback" not in result.stdout


def test_an_unreachable_url_is_shown_masked(secret_runs):
    shown = secret_runs["unreachable"][0]["db url"]
    assert shown.returncode == 0
    assert "password=***" in shown.stdout and "host=127.0.0.1" in shown.stdout


def test_the_reachable_password_login_worked(secret_runs):
    """The reachable kind is only a test if the commands really got in with the password."""
    results = secret_runs["reachable"][0]
    for name in set(COMMANDS) - SKIPPED["reachable"]:
        assert results[name].returncode == 0, (name, results[name].stdout, results[name].stderr)
