-- Operational record of the nightly backfill (`sniper backfill run`, flows/backfill.py).
create schema if not exists ops;

create table if not exists ops.backfill_runs (
    attempt_id bigserial primary key,
    flow_run_id text,
    symbol text not null,
    window_start_date date not null,
    window_days integer not null check (window_days between 1 and 31),
    reason text not null,
    status text not null check (status in ('running', 'succeeded', 'failed')),
    rows_written bigint,
    duration_seconds float8,
    error text,
    started_at timestamptz not null default now(),
    finished_at timestamptz
);
create index if not exists backfill_runs_window_idx on ops.backfill_runs (symbol, window_start_date);
comment on table ops.backfill_runs is
    'One row per attempt to materialize one window of one symbol. A process that died '
    'mid-window leaves status running; the next run marks it failed (interrupted).';
