"""Throwaway databases in an embedded cluster, migrated and ready: for tests and benchmarks."""

from __future__ import annotations

import uuid

import psycopg
from psycopg import sql

from sniper.db.embedded import EmbeddedCluster
from sniper.db.migrate import migrate


def create_scratch_database(cluster: EmbeddedCluster, prefix: str) -> tuple[str, str]:
    """Create a database named `<prefix>_<8 hex>` in `cluster`, apply the migrations to it;
    returns its name and URL (over the cluster's unix socket)."""
    name, url = _new_database(cluster, prefix)
    with psycopg.connect(url) as conn:
        migrate(conn)
    return name, url


def copy_scratch_database(cluster: EmbeddedCluster, template: str, prefix: str) -> tuple[str, str]:
    """A new database `<prefix>_<8 hex>` holding exactly what `template` holds (nobody may be
    connected to it meanwhile), block for block; returns its name and URL."""
    return _new_database(cluster, prefix, template)


def _new_database(cluster: EmbeddedCluster, prefix: str, template: str | None = None) -> tuple[str, str]:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    statement = sql.SQL("create database {}").format(sql.Identifier(name))
    if template is not None:
        statement += sql.SQL(" template {}").format(sql.Identifier(template))
    with psycopg.connect(cluster.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(statement)
    return name, f"postgresql://postgres@/{name}?host={cluster.socket_dir}"


def drop_scratch_database(cluster: EmbeddedCluster, name: str) -> None:
    """Drop `name` from `cluster`, disconnecting whoever is still on it."""
    with psycopg.connect(cluster.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
