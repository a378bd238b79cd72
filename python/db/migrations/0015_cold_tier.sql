-- The cold tier (`sniper cold`, python/cold/, docs/cold.md): raw tick weeks older than a
-- horizon, whose candles and features are materialized and verified, live as Parquet files
-- (one per instrument, raw table and week) instead of rows. raw.cold_weeks is the ledger of
-- those files: a row is written in the same transaction that deletes the instrument's rows
-- of that week (or drops the whole week partition), so after a crash either the rows are in
-- PostgreSQL or the ledger names the verified file that holds them, never neither.
create table if not exists raw.cold_weeks (
    exchange text not null,
    market text not null,
    symbol text not null,
    -- The raw table the rows came from (and go back to).
    kind text not null check (kind in ('trades', 'agg_trades', 'l1_quotes', 'depth_bands')),
    week_start_date date not null check (extract(isodow from week_start_date) = 1),
    -- Where the file is: the store's URL when it was written, and the path under it.
    store_url text not null,
    path text not null,
    -- The manifest, as verified by reading the file back before the rows were dropped.
    row_count bigint not null check (row_count > 0),
    first_ts timestamptz not null,
    last_ts timestamptz not null,
    sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
    file_bytes bigint not null check (file_bytes > 0),
    -- cold: only the file holds the rows; restored: PostgreSQL holds them again (the file
    -- stays, and the next `sniper cold move` writes it anew before dropping them again).
    status text not null check (status in ('cold', 'restored')),
    -- How the rows left PostgreSQL: the week partition dropped (every instrument of the week
    -- went cold together), or this instrument's rows deleted from a partition others share.
    dropped_by text not null check (dropped_by in ('drop_partition', 'delete_rows')),
    moved_at timestamptz not null default now(),
    primary key (exchange, market, symbol, kind, week_start_date),
    check (first_ts <= last_ts),
    check (first_ts >= week_start_date::timestamp at time zone 'UTC'),
    check (last_ts < (week_start_date + 7)::timestamp at time zone 'UTC')
);
comment on table raw.cold_weeks is
    'One row per instrument, raw table and week moved to the cold tier: its Parquet file, manifest and state.';

create table if not exists raw.cold_restores (
    restore_id bigserial primary key,
    exchange text not null,
    market text not null,
    symbol text not null,
    kind text not null,
    week_start_date date not null,
    rows_restored bigint not null check (rows_restored >= 0),
    -- Who asked: `sniper cold restore`, or the backfill window that needed the week.
    reason text not null,
    restored_at timestamptz not null default now(),
    foreign key (exchange, market, symbol, kind, week_start_date)
    references raw.cold_weeks (exchange, market, symbol, kind, week_start_date)
);
create index if not exists cold_restores_week_idx
    on raw.cold_restores (exchange, market, symbol, week_start_date);
comment on table raw.cold_restores is
    'One row per cold file whose rows were copied back into PostgreSQL, in the same transaction as the rows.';
