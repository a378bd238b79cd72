-- Real market data in (`sniper ingest`): Binance aggregated trades, per-file load
-- detail, and a record of files that could not be loaded.

-- Binance aggregated trades get their own table rather than rows in raw.trades: an
-- aggregated trade is one or more trades of one taker order at one price, with its own
-- id sequence. Mixed into raw.trades they would double count volume wherever both
-- kinds were loaded for the same symbol, and agg ids could collide with trade ids.
-- first_trade_id..last_trade_id tie each row back to raw.trades.
create table if not exists raw.agg_trades (
    exchange text not null,
    market text not null,
    symbol text not null,
    agg_trade_id bigint not null,
    ts timestamptz not null,
    price float8 not null check (price > 0),
    qty float8 not null check (qty > 0),
    first_trade_id bigint not null,
    last_trade_id bigint not null,
    is_buyer_maker boolean not null,
    check (first_trade_id <= last_trade_id),
    primary key (symbol, ts, agg_trade_id, market, exchange)
) partition by range (ts);
comment on table raw.agg_trades is
    'One row per exchange aggregated trade (trades of one taker order at one price). '
    'is_buyer_maker true means the taker sold.';

-- What a load did besides rows_loaded/rows_rejected: rows per target table, duplicates
-- already present, lines skipped on purpose (depth updates, REST snapshots).
alter table raw.load_ledger add column if not exists detail jsonb not null default '{}'::jsonb;

create table if not exists raw.load_failures (
    failure_id bigserial primary key,
    source_kind text not null,
    source text not null,
    reason text not null,
    failed_at timestamptz not null default now()
);
create index if not exists load_failures_source_idx on raw.load_failures (source_kind, source);
comment on table raw.load_failures is
    'One row per failed attempt to load a file (missing, checksum mismatch, not an archive); '
    'nothing of such a file is in the raw tables or the ledger.';
