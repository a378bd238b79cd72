-- Raw market data as the exchanges publish it. Loaders only ever append; dbt reads.
--
-- Physical design: the tick tables are range-partitioned by week (Monday 00:00 UTC,
-- the exchange's week) and their primary key leads with (symbol, ts). A one-week
-- window for one symbol therefore prunes to one partition (two for an unaligned
-- window) and reads an index range inside it; other weeks are never scanned.
-- Partitions are created on demand by raw.ensure_week_partitions() before a load.
-- Prices and sizes are float8: aggregation speed matters more than the last
-- decimal, and 15 significant digits hold every Binance price and size exactly
-- enough for candles (sums are compared with a relative tolerance in tests).

create schema if not exists raw;

create table if not exists raw.trades (
    exchange text not null,
    market text not null,
    symbol text not null,
    trade_id bigint not null,
    ts timestamptz not null,
    price float8 not null check (price > 0),
    qty float8 not null check (qty > 0),
    quote_qty float8 not null,
    is_buyer_maker boolean not null,
    primary key (symbol, ts, trade_id, market, exchange)
) partition by range (ts);
comment on table raw.trades is
    'One row per exchange trade. is_buyer_maker true means the taker sold.';

create table if not exists raw.l1_quotes (
    exchange text not null,
    market text not null,
    symbol text not null,
    update_id bigint not null,
    ts timestamptz not null,
    bid_price float8 not null,
    bid_qty float8 not null check (bid_qty >= 0),
    ask_price float8 not null,
    ask_qty float8 not null check (ask_qty >= 0),
    primary key (symbol, ts, update_id, market, exchange)
) partition by range (ts);
comment on table raw.l1_quotes is 'One row per best bid/ask update (bookTicker).';

create table if not exists raw.depth_bands (
    exchange text not null,
    market text not null,
    symbol text not null,
    ts timestamptz not null,
    side text not null check (side in ('bid', 'ask')),
    band_pct numeric(4, 2) not null check (band_pct > 0),
    depth float8 not null check (depth >= 0),
    notional float8 not null check (notional >= 0),
    primary key (symbol, ts, side, band_pct, market, exchange)
) partition by range (ts);
comment on table raw.depth_bands is
    'Resting size within band_pct percent of the mid on one side of the book, per snapshot.';

create table if not exists raw.options_chain (
    exchange text not null,
    underlying text not null,
    instrument text not null,
    ts timestamptz not null,
    expiry_at timestamptz not null,
    strike float8 not null check (strike > 0),
    option_type text not null check (option_type in ('call', 'put')),
    open_interest float8 not null check (open_interest >= 0),
    mark_price float8,
    mark_iv float8,
    delta float8,
    gamma float8,
    vega float8,
    underlying_price float8 not null check (underlying_price > 0),
    contract_size float8 not null default 1,
    primary key (underlying, ts, instrument, exchange)
) partition by range (ts);
comment on table raw.options_chain is 'One row per option contract per chain snapshot.';

create table if not exists raw.klines (
    exchange text not null,
    market text not null,
    symbol text not null,
    interval text not null,
    open_at timestamptz not null,
    close_at timestamptz not null,
    open float8 not null,
    high float8 not null,
    low float8 not null,
    close float8 not null,
    volume float8 not null,
    quote_volume float8 not null,
    trade_count bigint not null,
    taker_buy_volume float8 not null,
    taker_buy_quote_volume float8 not null,
    primary key (symbol, interval, open_at, market, exchange)
);
comment on table raw.klines is 'The exchange''s own candles: an oracle for ours and a cheap regime source.';

create table if not exists raw.load_ledger (
    load_id bigserial primary key,
    source_kind text not null,
    source text not null,
    checksum text,
    exchange text,
    market text,
    symbol text,
    data_kind text,
    first_ts timestamptz,
    last_ts timestamptz,
    rows_loaded bigint not null default 0,
    rows_rejected bigint not null default 0,
    loaded_at timestamptz not null default now(),
    unique (source_kind, source)
);
comment on table raw.load_ledger is
    'One row per file (or generated day) loaded; written in the same transaction as its rows.';

create table if not exists raw.load_rejects (
    source_kind text not null,
    source text not null,
    line_number bigint not null,
    raw_text text not null,
    reason text not null,
    rejected_at timestamptz not null default now(),
    primary key (source_kind, source, line_number)
);
comment on table raw.load_rejects is 'Input lines that were not loaded, with the reason.';

-- Create the weekly partitions of one raw table that cover [from_ts, to_ts).
create or replace function raw.ensure_week_partitions(
    parent regclass, from_ts timestamptz, to_ts timestamptz
) returns integer
language plpgsql as $$
declare
    week_start timestamptz := date_trunc('week', from_ts at time zone 'UTC') at time zone 'UTC';
    parent_name text := (select relname from pg_class where oid = parent);
    created integer := 0;
    partition_name text;
begin
    -- Concurrent loaders must not race to create the same partition.
    perform pg_advisory_xact_lock(hashtext('raw.ensure_week_partitions'));
    while week_start < to_ts loop
        partition_name := format('%s_w%s', parent_name, to_char(week_start at time zone 'UTC', 'YYYYMMDD'));
        if to_regclass(format('raw.%I', partition_name)) is null then
            execute format(
                'create table raw.%I partition of %s for values from (%L) to (%L)',
                partition_name, parent, week_start, week_start + interval '7 days'
            );
            created := created + 1;
        end if;
        week_start := week_start + interval '7 days';
    end loop;
    return created;
end;
$$;
