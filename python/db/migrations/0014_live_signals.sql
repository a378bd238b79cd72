-- Live scoring (issue 14, docs/live.md): which model is deployed for which instrument, the
-- entry signals it emitted for every newly complete 5-minute bucket, the buckets the live
-- materialization built (its watermark), and the forward evaluations of deployed models.
create schema if not exists ml;

-- One row per deployment event: from deployed_at on, run_id is the instrument's paper (or
-- live) model, until a newer row of the same instrument and status replaces it. Paper models
-- are scored and tracked like live ones; only a live one is for the trading engine.
create table if not exists ml.deployments (
    deployment_id bigint generated always as identity primary key,
    exchange text not null,
    market text not null,
    symbol text not null,
    run_id text not null references evaluation.model_runs (run_id),
    status text not null check (status in ('paper', 'live')),
    deployed_at timestamptz not null default now(),
    deployed_by text not null,
    unique (exchange, market, symbol, run_id, status)
);
comment on table ml.deployments is
    'One row per instrument and deployment of a training run as its paper or live model, in force '
    'from deployed_at until a newer deployment of the same instrument and status.';

-- One row per instrument, 5-minute bucket and model run that scored it. A bucket whose
-- candle is incomplete or whose model features are missing gets no probabilities and no
-- side, and says why in no_signal_reason.
create table if not exists ml.entry_signals (
    exchange text not null,
    market text not null,
    symbol text not null,
    bucket_start_at timestamptz not null,
    run_id text not null references evaluation.model_runs (run_id),
    deployment_status text not null check (deployment_status in ('paper', 'live')),
    -- The entry would be at the bucket's close, bucket_start_at + 5 minutes.
    entry_at timestamptz not null,
    is_complete boolean not null,
    -- Share of the model's feature columns with a value in this bucket (1 = all).
    feature_completeness float8 not null check (feature_completeness between 0 and 1),
    long_win_probability float8 check (long_win_probability between 0 and 1),
    short_win_probability float8 check (short_win_probability between 0 and 1),
    threshold float8 not null,
    side text check (side in ('long', 'short')),
    no_signal_reason text,
    created_at timestamptz not null default clock_timestamp(),
    -- Seconds from the bucket's close (entry_at) to this row's commit time.
    latency_seconds float8 not null,
    flow_run_id text,
    primary key (exchange, market, symbol, bucket_start_at, run_id),
    check ((long_win_probability is null) = (no_signal_reason is not null)),
    check (side is null or no_signal_reason is null)
);
comment on table ml.entry_signals is
    'One row per instrument, 5-minute bucket and scoring model run: win probabilities of a long and a '
    'short entry at the bucket''s close, the run''s threshold, the side taken (null: none), or why '
    'the bucket got no signal.';
create index if not exists entry_signals_by_run on ml.entry_signals (run_id, bucket_start_at);

-- The live materialization's watermark: one row per instrument and 5-minute bucket it built,
-- with how far the instrument's recorded coverage reached then. A bucket is built again only
-- when late ticks can have reached it (flows/live_materialize.py, docs/live.md).
create table if not exists ops.live_buckets (
    exchange text not null,
    market text not null,
    symbol text not null,
    bucket_start_at timestamptz not null,
    materialized_at timestamptz not null,
    -- The newest covered exchange time of the instrument's live spans when it was built
    -- (null: no live span covered it).
    covered_through_at timestamptz,
    times_materialized integer not null default 1 check (times_materialized >= 1),
    flow_run_id text,
    primary key (exchange, market, symbol, bucket_start_at)
);
comment on table ops.live_buckets is
    'One row per instrument and 5-minute bucket the live materialization built: when, and how far '
    'the recorded coverage reached then (the watermark late ticks are detected against).';

-- One row per forward evaluation of a deployed model (or of an instrument's model chain):
-- the diagnosis and alarms the backfill planner and `sniper status` read.
create table if not exists ml.forward_evaluations (
    evaluation_id bigint generated always as identity primary key,
    evaluated_at timestamptz not null default now(),
    scope text not null check (scope in ('run', 'chain')),
    scope_key text not null,
    n_trades integer not null,
    win_rate float8,
    sharpe float8,
    max_drawdown float8,
    long_share float8,
    walk_forward_win_rate float8,
    enough_data boolean not null,
    diagnosis jsonb not null,
    alarms jsonb not null,
    expectation jsonb not null
);
comment on table ml.forward_evaluations is
    'One row per forward evaluation of a deployed run (scope run) or of the live model chain '
    '(scope chain, key exchange:market:SYMBOL): figures, the enough-data rule, alarms, diagnosis.';
