-- What the live recorder (`sniper record`) covered: one row per instrument and connected
-- span. A span opens when a connection to the exchange's combined stream is up, advances
-- with every committed batch (in the batch's transaction), and closes with the reason the
-- connection ended. Its covered time (first_ts .. last_ts, exchange time) is also a
-- raw.load_ledger row of data_kind 'trade+bookTicker', which is how dbt learns it
-- (models/intermediate/int_coverage__load_spans.sql): the time between two spans of an
-- instrument is a gap, and candles over it are incomplete.
create table if not exists raw.recording_spans (
    exchange text not null,
    market text not null,
    symbol text not null,
    -- Wall-clock times of this machine.
    connected_at timestamptz not null,
    disconnected_at timestamptz,
    last_commit_at timestamptz not null,
    -- The covered interval: every trade (and, for um, every bookTicker) of the symbol
    -- with first_ts <= ts <= last_ts is in raw.trades / raw.l1_quotes. Null until the
    -- first batch with rows of the symbol commits.
    first_ts timestamptz,
    last_ts timestamptz,
    end_reason text,
    -- The connection this span was part of (all symbols of one `sniper record` share it);
    -- its rejected messages are raw.load_rejects rows with source_kind 'live' and this source.
    connection text not null,
    url text not null,
    pid integer not null,
    messages bigint not null default 0 check (messages >= 0),
    trades bigint not null default 0 check (trades >= 0),
    quotes bigint not null default 0 check (quotes >= 0),
    duplicates bigint not null default 0 check (duplicates >= 0),
    rejected bigint not null default 0 check (rejected >= 0),
    load_id bigint not null unique references raw.load_ledger (load_id),
    primary key (exchange, market, symbol, connected_at),
    check ((disconnected_at is null) = (end_reason is null)),
    check (first_ts is null or first_ts <= last_ts)
);
comment on table raw.recording_spans is
    'One row per instrument and connected span of the live recorder: when it was connected, '
    'the exchange time it covers, and why it ended (null while recording).';

-- At most one open span per instrument: a second recorder of the same instrument is
-- refused by an advisory lock, and this index is the database's own guarantee.
create unique index if not exists recording_spans_one_open_per_instrument
    on raw.recording_spans (exchange, market, symbol)
    where end_reason is null;
