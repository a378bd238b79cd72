"""Which PostgreSQL the project talks to, and connections to it.

One resolution serves the CLI, dbt, the flows and the tests: ``SNIPER_DATABASE_URL``
when set, otherwise the embedded cluster under the project's state directory.

Nothing here ever puts a secret into a message: targets describe themselves through
``display`` (password masked), and text that comes from libpq or psycopg, which can quote
the connection string, goes through ``masked_reason`` first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import unquote

import psycopg
from psycopg import conninfo as pg_conninfo
from psycopg import sql

from sniper.db.embedded import SUPERUSER, EmbeddedCluster
from sniper.errors import UserError
from sniper.settings import Settings, get_settings

MASK = "***"
SECRET_PARAMETERS = ("password", "sslpassword")
# libpq waits forever for a host that never answers; dbt's profile uses the same bound.
DEFAULT_CONNECT_TIMEOUT_SECONDS = 10
# SQLSTATEs meaning "the server went away": connection exceptions, and shutdowns.
LOST_SERVER_SQLSTATE_PREFIXES = ("08", "57P01", "57P02", "57P03")
# How psycopg words a connection attempt that failed (the rest is libpq's reason).
CONNECT_FAILURE_PREFIXES = ("connection failed: ", "connection is bad: ")
SHORT_SECRET_LENGTH = 4


@dataclass(frozen=True)
class DatabaseTarget:
    """A resolved database: how to connect, and how to describe it without secrets."""

    kind: str  # "embedded" | "external"
    conninfo: str
    embedded: EmbeddedCluster | None = None

    @property
    def params(self) -> dict[str, str]:
        return pg_conninfo.conninfo_to_dict(self.conninfo)

    @property
    def secrets(self) -> list[str]:
        """Every secret the connection string holds, as written and as decoded."""
        return secrets_in(self.conninfo)

    @property
    def display(self) -> str:
        """The connection without its password, safe to print."""
        try:
            params = self.params
        except psycopg.Error:
            return mask_connection_string(self.conninfo)
        shown = {k: (MASK if k in SECRET_PARAMETERS else v) for k, v in params.items()}
        return pg_conninfo.make_conninfo(**shown)


def resolve_target(settings: Settings | None = None) -> DatabaseTarget:
    settings = settings or get_settings()
    if settings.database_url is not None:
        url = settings.database_url.get_secret_value()
        try:
            conninfo = pg_conninfo.make_conninfo(url)
            pg_conninfo.conninfo_to_dict(conninfo)
        except psycopg.ProgrammingError as error:
            raise UserError(invalid_url_message(url, error)) from None
        return DatabaseTarget(kind="external", conninfo=conninfo)
    cluster = EmbeddedCluster(settings.pgdata)
    return DatabaseTarget(
        kind="embedded", conninfo=cluster.conninfo(settings.database_name), embedded=cluster
    )


def ensure_database(target: DatabaseTarget) -> None:
    """Make sure the target answers before something else (dbt) connects to it: start the
    embedded cluster if it may be started and create the project database in it, or check
    that the external server is reachable. Raises a one-line UserError otherwise."""
    if target.embedded is None:
        connect(target).close()
        return
    _start_embedded(target)


def connect(target: DatabaseTarget | None = None, **kwargs) -> psycopg.Connection:
    """Open a connection, turning "cannot reach the server" into a one-line user error."""
    target = target or resolve_target()
    if target.embedded is not None:
        _start_embedded(target)
    if "connect_timeout" not in kwargs and "connect_timeout" not in target.params:
        kwargs["connect_timeout"] = DEFAULT_CONNECT_TIMEOUT_SECONDS
    try:
        return psycopg.connect(target.conninfo, **kwargs)
    except psycopg.OperationalError as error:
        raise lost_server_error(error, target, connecting=True) from None
    except psycopg.Error as error:  # a parameter libpq or psycopg rejects, e.g. connect_timeout=abc
        raise UserError(f"cannot connect to database {target.display}: {masked_reason(error, target.secrets)}") from None


@contextmanager
def database_errors(target: DatabaseTarget | None = None) -> Iterator[None]:
    """Turn psycopg's "the server is gone" errors into a one-line UserError that names the
    target with its password masked: a server that could not be reached, that was stopped
    (with `sniper db stop`: then that is what the message says) or that went away mid-run.

    Wrap a command's database work in it (``with database_errors(): ...``, or as a
    decorator); other database errors pass through unchanged.
    """
    try:
        yield
    except psycopg.OperationalError as error:
        if not is_lost_server(error):
            raise
        raise lost_server_error(error, target or resolve_target()) from None


def lost_server_error(error: psycopg.OperationalError, target: DatabaseTarget, *, connecting: bool = False) -> UserError:
    """The one line for a server that is not there (any more), secrets masked."""
    stop = target.embedded.user_stop() if target.embedded is not None else None
    if stop is not None:
        return UserError(stop.describe())
    reason = masked_reason(error, target.secrets)
    for prefix in CONNECT_FAILURE_PREFIXES:
        if reason.startswith(prefix):
            reason, connecting = reason.removeprefix(prefix), True
    if connecting:
        return UserError(f"cannot reach database {target.display}: {reason}")
    return UserError(f"lost the connection to database {target.display}: {reason}")


def is_lost_server(error: psycopg.OperationalError) -> bool:
    """Client-side connection failures (no SQLSTATE), connection exceptions and shutdowns."""
    state = error.sqlstate
    return state is None or state.startswith(LOST_SERVER_SQLSTATE_PREFIXES)


def masked_reason(error: Exception, secrets: list[str]) -> str:
    """The first line of a driver's error, with every secret of the connection masked."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return scrub(lines[0] if lines else type(error).__name__, secrets)


def scrub(text: str, secrets: list[str]) -> str:
    """`text` with every secret masked; a very short one only where it stands alone (masking
    every "y" of a message hides nothing)."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= SHORT_SECRET_LENGTH:
            text = text.replace(secret, MASK)
        elif secret:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", MASK, text)
    return text


def invalid_url_message(url: str, error: Exception) -> str:
    """Why SNIPER_DATABASE_URL does not parse, without what libpq quotes of it (its quotes
    can hold the password): the URL itself is shown with its password masked instead."""
    first_line = next((line for line in str(error).splitlines() if line.strip()), "")
    reason = _unquoted_prefix(first_line) or "cannot be parsed"
    if not _URL.match(url):
        # A key=value string that does not parse may hold a password without "password=".
        cut = " …" if len(reason) < len(first_line.strip().rstrip(" :")) else ""
        return f"SNIPER_DATABASE_URL is not a valid connection string: {reason}{cut} (not shown: it may hold a password)"
    hint = " (write a literal % in a password as %25)" if "percent" in reason else ""
    masked = scrub(mask_connection_string(url), secrets_in(url))
    return f"SNIPER_DATABASE_URL is not a valid PostgreSQL URL: {reason}{hint}: {masked}"


def _unquoted_prefix(message: str) -> str:
    """libpq's message up to the first quoted piece of input: quoted single characters
    (`"="`, `"]"`) say what was expected and stay; anything longer is the input."""
    kept: list[str] = []
    index = 0
    while index < len(message):
        if message[index] == '"':
            if message[index + 2 : index + 3] == '"':
                kept.append(message[index : index + 3])
                index += 3
                continue
            break
        kept.append(message[index])
        index += 1
    return "".join(kept).rstrip(" :")


# postgresql://user:SECRET@host... ; the userinfo ends at the last "@" (a password may hold
# any character when the URL is malformed, so the mask errs towards hiding more).
_URL = re.compile(r"^\s*postgres(?:ql)?://", re.IGNORECASE)
_URL_USERINFO = re.compile(r"^(?P<head>\s*[A-Za-z][A-Za-z0-9+.-]*://[^:@/?#]*:)(?P<secret>.*)@", re.DOTALL)
_URL_QUERY_SECRET = re.compile(r"(?P<head>[?&](?:ssl)?password=)(?P<secret>[^&#]*)", re.IGNORECASE)
_KEYWORD_SECRET = re.compile(
    r"(?P<head>\b(?:ssl)?password\s*=\s*)(?P<secret>'(?:[^'\\]|\\.)*'?|\S+)", re.IGNORECASE
)


def _secret_patterns(text: str) -> tuple[re.Pattern[str], ...]:
    return (_URL_USERINFO, _URL_QUERY_SECRET) if _URL.match(text) else (_KEYWORD_SECRET,)


def mask_connection_string(text: str) -> str:
    """A URL or key=value connection string with its passwords replaced by ***."""
    for pattern in _secret_patterns(text):
        tail = "@" if pattern is _URL_USERINFO else ""
        text = pattern.sub(lambda match, tail=tail: f"{match['head']}{MASK}{tail}", text)
    return text


def secrets_in(text: str) -> list[str]:
    """The passwords a (possibly malformed) connection string holds, raw and decoded."""
    found = [m["secret"] for pattern in _secret_patterns(text) for m in pattern.finditer(text)]
    try:
        found += [v for k, v in pg_conninfo.conninfo_to_dict(text).items() if k in SECRET_PARAMETERS]
    except psycopg.Error:
        pass
    found += [unquote(secret) for secret in found]
    found += [secret.strip("'") for secret in found]
    return [secret for secret in dict.fromkeys(found) if secret]


def _start_embedded(target: DatabaseTarget) -> None:
    """Start the cluster unless a user stopped it, and create the project database."""
    assert target.embedded is not None
    target.embedded.start_automatically()
    dbname = target.params["dbname"]
    maintenance = target.embedded.conninfo("postgres")
    try:
        conn = psycopg.connect(maintenance, autocommit=True, connect_timeout=DEFAULT_CONNECT_TIMEOUT_SECONDS)
    except psycopg.OperationalError as error:
        raise lost_server_error(error, target, connecting=True) from None
    with database_errors(target), conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))


def dbt_environment(target: DatabaseTarget) -> dict[str, str]:
    """The variables ``profiles.yml`` reads: dbt connects through the same resolution."""
    params = target.params
    return {
        "SNIPER_PGHOST": params.get("host", "localhost"),
        "SNIPER_PGPORT": params.get("port", "5432"),
        "SNIPER_PGUSER": params.get("user", SUPERUSER),
        "SNIPER_PGPASSWORD": params.get("password", ""),
        "SNIPER_PGDATABASE": params["dbname"] if "dbname" in params else "postgres",
        "SNIPER_PGSSLMODE": params.get("sslmode", "prefer"),
    }
