-- What `sniper retention apply` deleted (macros/retention.sql writes it, in the same
-- transaction as the deletions). The backfill planner reads it: days a policy expired on
-- purpose are not materialized again.
create table if not exists ops.retention_runs (
    run_id uuid not null,
    model text not null,
    timeframe text not null,
    kept text not null,
    symbol text not null,
    cutoff_at timestamptz not null,
    deleted_rows bigint not null check (deleted_rows >= 0),
    applied_at timestamptz not null default now(),
    primary key (run_id, model, symbol)
);
comment on table ops.retention_runs is
    'One row per model and symbol a retention run trimmed: rows before cutoff_at were deleted.';
