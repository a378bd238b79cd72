"""Read the training dataset (ml.training_dataset) with a server-side cursor, only the needed columns.

Rows stream in chunks from a named cursor, so the host holds the selected columns of the
selected rows once (features as float32), never the whole table or any raw tick. The
instrument's three key columns come back as one column, ``instrument``: its key
``exchange:market:SYMBOL`` (python/instruments.py), what the training code groups by.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

DATASET = ("ml", "training_dataset")
INSTRUMENT_COLUMNS = ("exchange", "market", "symbol")
# Columns every run needs besides the features: keys, outcomes, regime.
BASE_COLUMNS = (
    *INSTRUMENT_COLUMNS,
    "bucket_start_at",
    "entry_at",
    "month_regime",
    "long_net_return",
    "long_exit_at",
    "short_net_return",
    "short_exit_at",
)
FETCH_ROWS = 20_000


def load_dataset(
    conn: psycopg.Connection, feature_columns: list[str], *, start: date | None, end: date
) -> pd.DataFrame:
    """Rows with complete labels whose entry lies in [start, end), oldest first."""
    columns = [*BASE_COLUMNS, *feature_columns]
    query = sql.SQL(
        "select {columns} from {table} where is_label_complete and entry_at < {end}"
        " and ({start} is null or entry_at >= {start}) order by entry_at, exchange, market, symbol"
    ).format(
        columns=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        table=sql.Identifier(*DATASET),
        end=sql.Literal(end),
        start=sql.Literal(start),
    )
    chunks = []
    with conn.transaction(), conn.cursor(name="training_dataset") as cursor:
        cursor.itersize = FETCH_ROWS
        cursor.execute(query)
        while rows := cursor.fetchmany(FETCH_ROWS):
            chunk = pd.DataFrame(rows, columns=columns)
            for column in feature_columns:
                chunk[column] = pd.to_numeric(chunk[column], errors="coerce").astype(np.float32)
            chunks.append(chunk)
    if not chunks:
        return pd.DataFrame(columns=["instrument", *columns[len(INSTRUMENT_COLUMNS):]])
    frame = pd.concat(chunks, ignore_index=True)
    frame.insert(0, "instrument", frame["exchange"] + ":" + frame["market"] + ":" + frame["symbol"])
    frame = frame.drop(columns=list(INSTRUMENT_COLUMNS))
    for column in ("bucket_start_at", "entry_at", "long_exit_at", "short_exit_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def dataset_span(conn: psycopg.Connection) -> tuple[date | None, date | None]:
    """First and last UTC day with complete labels."""
    row = conn.execute(
        sql.SQL("select (min(entry_at) at time zone 'utc')::date, (max(entry_at) at time zone 'utc')::date"
                " from {} where is_label_complete").format(
            sql.Identifier(*DATASET)
        )
    ).fetchone()
    return row[0], row[1]
