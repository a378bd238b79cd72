"""Which PostgreSQL the project talks to, and connections to it.

One resolution serves the CLI, dbt, the flows and the tests: ``SNIPER_DATABASE_URL``
when set, otherwise the embedded cluster under the project's state directory.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import conninfo as pg_conninfo
from psycopg import sql

from sniper.db.embedded import SUPERUSER, EmbeddedCluster
from sniper.errors import UserError
from sniper.settings import Settings, get_settings


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
    def display(self) -> str:
        """The connection without its password, safe to print."""
        params = {k: v for k, v in self.params.items() if k != "password"}
        if "password" in self.params:
            params["password"] = "***"
        return pg_conninfo.make_conninfo(**params)


def resolve_target(settings: Settings | None = None) -> DatabaseTarget:
    settings = settings or get_settings()
    if settings.database_url is not None:
        url = settings.database_url.get_secret_value()
        try:
            conninfo = pg_conninfo.make_conninfo(url)
        except psycopg.ProgrammingError as error:
            raise UserError(f"SNIPER_DATABASE_URL is not a valid PostgreSQL URL: {error}") from None
        return DatabaseTarget(kind="external", conninfo=conninfo)
    cluster = EmbeddedCluster(settings.pgdata)
    return DatabaseTarget(
        kind="embedded", conninfo=cluster.conninfo(settings.database_name), embedded=cluster
    )


def ensure_database(target: DatabaseTarget) -> None:
    """Start the embedded cluster if needed and create the project database in it."""
    if target.embedded is None:
        return
    target.embedded.start()
    dbname = target.params["dbname"]
    maintenance = target.embedded.conninfo("postgres")
    with psycopg.connect(maintenance, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))


def connect(target: DatabaseTarget | None = None, **kwargs) -> psycopg.Connection:
    """Open a connection, turning "cannot reach the server" into a one-line user error."""
    target = target or resolve_target()
    ensure_database(target)
    try:
        return psycopg.connect(target.conninfo, **kwargs)
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else "connection failed"
        raise UserError(f"cannot reach database {target.display}: {reason}") from None


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
