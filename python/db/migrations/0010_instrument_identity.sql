-- Instrument identity (issue 13; python/instruments.py): an instrument is (exchange,
-- market, symbol), and every table downstream of raw is keyed by all three. Raw tables
-- already carry them; this migration moves what a previous release wrote keyed by symbol
-- alone (it built one market per warehouse, var `market`, default spot) to the new keys,
-- keeping every row.
--
-- Which instrument a symbol-only row belongs to: the instrument the previous release
-- built for that symbol, read from raw.load_ledger: the symbol's spot loads if it has any
-- (the previous default market), else its USD-M loads; of several exchanges, the one with
-- the most loaded rows. A symbol without any load (possible only if its raw rows were
-- deleted by hand) becomes exchange 'unknown', market 'spot'. A warehouse that a previous
-- release built with var market = um for a symbol also loaded as spot is the one case this
-- cannot tell: rebuild such a warehouse's candles with `sniper backfill run --force-recompute`.

create temporary table previous_release_instruments on commit drop as
select distinct on (symbol)
    symbol,
    exchange,
    market
from (
    select
        symbol,
        exchange,
        market,
        sum(rows_loaded) as rows_loaded
    from raw.load_ledger
    where
        symbol ~ '^[A-Z0-9]{2,20}$'
        and exchange ~ '^[a-z][a-z0-9_]{0,19}$'
        and market in ('spot', 'um')
    group by symbol, exchange, market
) as loaded
order by symbol asc, (market = 'spot') desc, rows_loaded desc, exchange asc;

-- Adds exchange and market to `target` (a table keyed by symbol alone), filled per symbol,
-- and turns every index naming symbol without market into one that leads with
-- (exchange, market, symbol) in its place.
create or replace function pg_temp.add_instrument_columns(target regclass) returns void
language plpgsql as $$
declare
    index_row record;
begin
    execute format('alter table %s add column if not exists exchange text, add column if not exists market text',
                   target);
    execute format(
        'update %s as keyed set exchange = coalesce(known.exchange, ''unknown''), '
        'market = coalesce(known.market, ''spot'') '
        'from (select distinct symbol from %s) as symbols '
        'left join previous_release_instruments as known on known.symbol = symbols.symbol '
        'where keyed.symbol = symbols.symbol and keyed.exchange is null',
        target, target
    );
    execute format('alter table %s alter column exchange set not null, alter column market set not null', target);
    for index_row in
        select
            indexes.indexrelid::regclass as index_name,
            constraints.conname as constraint_name,
            pg_get_indexdef(indexes.indexrelid) as definition
        from pg_index as indexes
        left join pg_constraint as constraints on constraints.conindid = indexes.indexrelid
        where
            indexes.indrelid = target
            and pg_get_indexdef(indexes.indexrelid) ~ '[(, ]symbol[,)]'
            and pg_get_indexdef(indexes.indexrelid) !~ '[(, ]market[,)]'
    loop
        if index_row.constraint_name is not null then
            -- A primary key or unique constraint: same columns, the instrument's in front.
            execute format('alter table %s drop constraint %I', target, index_row.constraint_name);
            execute format(
                'alter table %s add constraint %I %s',
                target,
                index_row.constraint_name,
                regexp_replace(
                    regexp_replace(
                        substring(index_row.definition from ' USING btree (\(.*\))$'),
                        '([(, ])symbol([,)])', '\1exchange, market, symbol\2'
                    ),
                    '^', case when index_row.definition ~ '_pkey ' then 'primary key ' else 'unique ' end
                )
            );
        else
            execute format('drop index %s', index_row.index_name);
            execute regexp_replace(index_row.definition, '([(, ])symbol([,)])', '\1exchange, market, symbol\2');
        end if;
    end loop;
end;
$$;

-- Tables of this schema's own (python/db/migrations).
select pg_temp.add_instrument_columns('ops.backfill_runs');
select pg_temp.add_instrument_columns('ops.retention_runs');
select pg_temp.add_instrument_columns('evaluation.predictions');

-- Tables dbt built by a previous release (the incremental candle and feature tables, and the
-- regime and ml tables until their next rebuild): every base table of those schemas that has
-- a symbol column and no market column. A warehouse dbt has not built yet has none.
select pg_temp.add_instrument_columns(format('%I.%I', tables.table_schema, tables.table_name)::regclass)
from information_schema.tables as tables
where
    tables.table_schema in ('candles', 'features', 'regimes', 'ml')
    and tables.table_type = 'BASE TABLE'
    and exists (
        select 1 from information_schema.columns as columns
        where
            columns.table_schema = tables.table_schema
            and columns.table_name = tables.table_name
            and columns.column_name = 'symbol'
    )
    and not exists (
        select 1 from information_schema.columns as columns
        where
            columns.table_schema = tables.table_schema
            and columns.table_name = tables.table_name
            and columns.column_name = 'market'
    );

-- The feature tables gain the USD-M contract's open interest and funding
-- (models/features/features_futures_5m.sql), null for the buckets built before: a window
-- rebuilt with force_recompute fills them where the archives are loaded.
alter table if exists features.features_5m
    add column if not exists open_interest_snapshot_at timestamptz,
    add column if not exists open_interest double precision,
    add column if not exists open_interest_value double precision,
    add column if not exists open_interest_change double precision,
    add column if not exists open_interest_change_1h double precision,
    add column if not exists funding_settled_at timestamptz,
    add column if not exists funding_rate double precision;
alter table if exists features.features_15m
    add column if not exists open_interest double precision,
    add column if not exists open_interest_change double precision,
    add column if not exists open_interest_change_1h double precision,
    add column if not exists funding_rate double precision;
alter table if exists features.features_1h
    add column if not exists open_interest double precision,
    add column if not exists open_interest_change double precision,
    add column if not exists open_interest_change_1h double precision,
    add column if not exists funding_rate double precision;

-- Building blocks that keep state between runs live in a schema of their own, not in the
-- schemas analysts read (dbt_project.yml, models/intermediate/).
create schema if not exists intermediate;
alter table if exists features.int_features__iceberg_intervals set schema intermediate;
alter table if exists regimes.int_regimes__daily_prices set schema intermediate;

comment on column ops.backfill_runs.exchange is 'Instrument of the window: exchange, market, symbol.';
comment on column ops.retention_runs.exchange is 'Instrument the deletion applied to: exchange, market, symbol.';
comment on column evaluation.predictions.exchange is 'Instrument of the prediction: exchange, market, symbol.';

-- The staging views of a previous release keep one market (`where market = ...`, baked in
-- when they were created): dropped, with the views built on them, so nothing reads one
-- market by mistake; the next `sniper backfill run` (or `dbt run`) builds them anew, and
-- until then the backfill planner finds the warehouse not built (regimes.materialization_days
-- is one of those views) and builds it first.
drop schema if exists staging cascade;
