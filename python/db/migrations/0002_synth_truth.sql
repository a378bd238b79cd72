-- Ground truth of the synthetic market, for tests and benchmarks of the detectors.
create schema if not exists synth;

create table if not exists synth.iceberg_truth (
    symbol text not null,
    side text not null check (side in ('bid', 'ask')),
    price float8 not null,
    started_at timestamptz not null,
    ended_at timestamptz not null,
    display_qty float8 not null,
    total_qty float8 not null,
    refill_count integer not null,
    primary key (symbol, started_at, side)
);
comment on table synth.iceberg_truth is
    'One row per planted iceberg: a resting order showing display_qty at price and refilling refill_count times.';

create table if not exists synth.regime_truth (
    symbol text not null,
    month_start_date date not null,
    regime text not null check (regime in ('bull', 'bear', 'sideways')),
    drift_per_month float8 not null,
    vol_per_day float8 not null,
    primary key (symbol, month_start_date)
);
comment on table synth.regime_truth is 'One row per symbol and calendar month: the regime the generator used.';
