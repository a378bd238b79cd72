-- What every training run found, for analysts and the report (`sniper train`, flows/train.py).
create schema if not exists evaluation;

create table if not exists evaluation.model_runs (
    run_id text primary key,
    created_at timestamptz not null default now(),
    model_kind text not null,
    features text [] not null,
    feature_columns text [] not null,
    data_start_date date not null,
    data_end_date date not null,
    train_start_date date not null,
    params jsonb not null,
    code_version text not null,
    artifact_dir text not null,
    verdict text not null,
    exit_code integer not null,
    criteria jsonb not null,
    alarms jsonb not null,
    diagnosis jsonb not null,
    n_trades integer not null,
    win_rate float8,
    sharpe float8,
    max_drawdown float8,
    long_share float8,
    probabilistic_sharpe float8,
    deflated_sharpe float8,
    feature_importance jsonb not null
);
comment on table evaluation.model_runs is 'One row per training run: its window, features, parameters, verdict.';

create table if not exists evaluation.model_metrics (
    run_id text not null references evaluation.model_runs (run_id) on delete cascade,
    evaluation text not null check (evaluation in ('walk_forward', 'unseen_regime')),
    scope text not null check (scope in ('overall', 'month', 'regime', 'fold')),
    scope_key text not null,
    regime text,
    n_trades integer not null,
    win_rate float8,
    expectancy float8,
    profit_factor float8,
    sharpe float8,
    sortino float8,
    max_drawdown float8,
    long_share float8,
    primary key (run_id, evaluation, scope, scope_key)
);
comment on table evaluation.model_metrics is
    'One row per run, evaluation kind and slice (overall, a test month, a regime, a fold) of out-of-sample trades.';

create table if not exists evaluation.predictions (
    run_id text not null references evaluation.model_runs (run_id) on delete cascade,
    evaluation text not null,
    fold text not null,
    symbol text not null,
    bucket_start_at timestamptz not null,
    side text not null check (side in ('long', 'short')),
    win_probability float8 not null,
    threshold float8,
    is_trade boolean not null,
    net_return float8 not null,
    exit_at timestamptz not null,
    month_regime text,
    primary key (run_id, evaluation, fold, symbol, bucket_start_at, side)
);
comment on table evaluation.predictions is
    'One row per out-of-sample bucket and side scored by a run: probability, threshold, taken or not, outcome.';

create table if not exists evaluation.equity_curve (
    run_id text not null references evaluation.model_runs (run_id) on delete cascade,
    evaluation text not null,
    fold text not null,
    at timestamptz not null,
    equity float8 not null,
    primary key (run_id, evaluation, fold, at)
);
comment on table evaluation.equity_curve is 'Equity after each exit (from 1.0), per run and fold.';
