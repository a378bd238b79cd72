"""Rows of one instrument's raw week to a Parquet file and back, exactly.

Out: ``COPY (select ... order by the primary key) TO STDOUT (FORMAT csv)`` streamed into
pyarrow's CSV reader with the column types fixed from the catalog, batch by batch into a
``ParquetWriter``: memory follows the batch, not the week. Floats leave PostgreSQL as their
shortest exact text (extra_float_digits > 0) and become the same float64; timestamps are
microseconds in UTC; numeric(p, s) is a decimal of the same precision and scale.

The encodings are chosen per column for size (bench/bench_cold.py): increasing integers and
times as deltas (DELTA_BINARY_PACKED), prices and the instrument's text columns as
dictionaries, other floats byte-split (BYTE_STREAM_SPLIT, which zstd then compresses well),
all pages zstd with page checksums.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
from psycopg import sql

from sniper.cold.kinds import INSTRUMENT_COLUMNS, TIME_COLUMN, RawKind, week_bounds
from sniper.cold.store import ColdFileError, ColdStore
from sniper.instruments import Instrument

ZSTD_LEVEL = 9
ROW_GROUP_ROWS = 1_000_000
CSV_BLOCK_BYTES = 16 * 2**20
RESTORE_BATCH_ROWS = 200_000
# A float column whose first block has fewer distinct values than this share of its rows is
# dictionary-encoded.
DICTIONARY_MAX_DISTINCT_SHARE = 0.25


@dataclass(frozen=True)
class WrittenFile:
    row_count: int
    first_ts: datetime | None
    last_ts: datetime | None
    sha256: str
    file_bytes: int


def column_encodings(kind: RawKind, sample: pa.RecordBatch) -> tuple[list[str], dict[str, str]]:
    """(dictionary-encoded columns, explicit encodings of the others), from the file's first block.

    Integers and times as deltas (ids and times grow along the primary key); text, booleans
    and decimals as dictionaries; a float column as a dictionary when the block repeats its
    values (exchange prices on a tick grid, sizes in lots), else PLAIN, which zstd compresses
    better than a dictionary of distinct values or byte-split planes (measured on the
    synthetic market: continuous prices 3.2 bytes a row PLAIN, 4.9 as a dictionary, 4.6
    byte-split).
    """
    dictionary, encodings = [], {}
    for column in kind.columns:
        arrow = column.arrow_type
        if pa.types.is_integer(arrow) or pa.types.is_temporal(arrow):
            encodings[column.name] = "DELTA_BINARY_PACKED"
        elif pa.types.is_floating(arrow):
            values = sample.column(column.name)
            distinct = pc.count_distinct(values).as_py()
            if distinct <= DICTIONARY_MAX_DISTINCT_SHARE * max(1, len(values)):
                dictionary.append(column.name)
            else:
                encodings[column.name] = "PLAIN"
        else:
            dictionary.append(column.name)
    return dictionary, encodings


class _CopyReader(io.RawIOBase):
    """A COPY TO STDOUT as a readable binary stream, for pyarrow's streaming CSV reader."""

    def __init__(self, copy):
        self._copy = copy
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        """Fill the whole buffer (pyarrow takes each read as a block): COPY hands out one row at a time."""
        filled, size = 0, len(buffer)
        while filled < size:
            if not self._pending:
                data = self._copy.read()
                if not data:
                    break
                self._pending = memoryview(data)
            n = min(size - filled, len(self._pending))
            buffer[filled:filled + n] = self._pending[:n]
            self._pending = self._pending[n:]
            filled += n
        return filled


def _instrument_week_filter(instrument: Instrument, week: date) -> tuple[sql.Composable, tuple]:
    start, end = week_bounds(week)
    where = sql.SQL(" and ").join(
        [*(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in INSTRUMENT_COLUMNS),
         sql.SQL("{} >= %s and {} < %s").format(sql.Identifier(TIME_COLUMN), sql.Identifier(TIME_COLUMN))]
    )
    return where, (instrument.exchange, instrument.market, instrument.symbol, start, end)


def count_rows(conn: psycopg.Connection, table: str, instrument: Instrument, week: date) -> int:
    """The instrument's rows of ``table`` (a raw table or one of its partitions) in the week."""
    schema, name = table.split(".")
    where, params = _instrument_week_filter(instrument, week)
    query = sql.SQL("select count(*) from {} where {}").format(sql.Identifier(schema, name), where)
    return conn.execute(query, params).fetchone()[0]


def export_week(conn: psycopg.Connection, kind: RawKind, instrument: Instrument, week: date, store: ColdStore,
                path: str) -> WrittenFile:
    """Write the instrument's rows of the week to ``path`` in the store (one COPY: one snapshot)."""
    where, params = _instrument_week_filter(instrument, week)
    query = sql.SQL("copy (select {} from {} where {} order by {}) to stdout (format csv)").format(
        sql.SQL(", ").join(sql.Identifier(c.name) for c in kind.columns),
        sql.Identifier("raw", kind.name),
        where,
        sql.SQL(", ").join(map(sql.Identifier, kind.primary_key)),
    )
    schema = kind.schema
    conn.execute("set extra_float_digits = 3")  # shortest exact text of every float8 (PostgreSQL 12+)
    conn.execute("set timezone = 'UTC'")
    rows, first_ts, last_ts = 0, None, None
    with store.writing(path) as sink, conn.cursor().copy(query, params) as copy:
        reader = pcsv.open_csv(
            _CopyReader(copy),
            read_options=pcsv.ReadOptions(column_names=schema.names, block_size=CSV_BLOCK_BYTES),
            parse_options=pcsv.ParseOptions(newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(
                column_types=schema, true_values=["t"], false_values=["f"], null_values=[""],
                strings_can_be_null=True, quoted_strings_can_be_null=False,
            ),
        )
        writer: pq.ParquetWriter | None = None
        # A row group per ROW_GROUP_ROWS rows, whatever the CSV blocks' size.
        pending: list[pa.RecordBatch] = []
        for batch in itertools.chain(reader, [None]):
            if batch is not None and batch.num_rows:
                batch = batch.cast(schema)
                if writer is None:
                    dictionary, encodings = column_encodings(kind, batch)
                    writer = pq.ParquetWriter(
                        sink, schema, compression="zstd", compression_level=ZSTD_LEVEL,
                        use_dictionary=dictionary, column_encoding=encodings or None, write_statistics=True,
                        write_page_checksum=True,
                    )
                pending.append(batch)
                rows += batch.num_rows
                times = batch.column(TIME_COLUMN)
                low, high = pc.min(times).as_py(), pc.max(times).as_py()
                first_ts = low if first_ts is None else min(first_ts, low)
                last_ts = high if last_ts is None else max(last_ts, high)
            if pending and (batch is None or sum(b.num_rows for b in pending) >= ROW_GROUP_ROWS):
                writer.write_table(pa.Table.from_batches(pending, schema), row_group_size=ROW_GROUP_ROWS)
                pending = []
        if writer is None:
            raise ValueError(f"no rows of {instrument} in raw.{kind.name} for the week of {week}")
        writer.close()
    return WrittenFile(rows, first_ts, last_ts, sink.sha256, sink.bytes_written)


def _parquet_file(store: ColdStore, path: str) -> pq.ParquetFile:
    local = store.local_path(path)
    source = local if local is not None else store.open(path)
    try:
        return pq.ParquetFile(source, page_checksum_verification=True)
    except FileNotFoundError:
        raise ColdFileError(f"cold file missing: {store.full_path(path)}") from None
    except (pa.ArrowInvalid, OSError) as error:
        raise ColdFileError(f"cold file unreadable: {store.full_path(path)} ({error})") from None


def read_back(store: ColdStore, path: str, kind: RawKind) -> tuple[int, datetime | None, datetime | None]:
    """Decode every page of the file (checksums verified): its rows and min and max time."""
    rows, first_ts, last_ts = 0, None, None
    for batch in read_batches(store, path, kind):
        rows += batch.num_rows
        times = batch.column(TIME_COLUMN)
        low, high = pc.min(times).as_py(), pc.max(times).as_py()
        first_ts = low if first_ts is None else min(first_ts, low)
        last_ts = high if last_ts is None else max(last_ts, high)
    return rows, first_ts, last_ts


def read_batches(store: ColdStore, path: str, kind: RawKind) -> Iterator[pa.RecordBatch]:
    """The file's rows in batches, with the raw table's schema (a file of another shape is refused)."""
    parquet = _parquet_file(store, path)
    expected = kind.schema
    found = parquet.schema_arrow
    if [(f.name, f.type) for f in found] != [(f.name, f.type) for f in expected]:
        raise ColdFileError(
            f"cold file {store.full_path(path)} has columns {', '.join(found.names)}, raw.{kind.name} has "
            f"{', '.join(expected.names)}: restore it with the release that wrote it"
        )
    try:
        yield from parquet.iter_batches(batch_size=RESTORE_BATCH_ROWS)
    except (pa.ArrowInvalid, OSError) as error:
        raise ColdFileError(f"cold file unreadable: {store.full_path(path)} ({error})") from None


