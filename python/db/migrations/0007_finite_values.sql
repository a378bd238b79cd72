-- Never store garbage (issue #12): every stored number is finite and in its range, and
-- an exchange id can be looked up whatever its timestamp.
--
-- The loaders reject such rows to raw.load_rejects with a reason (docs/ingest.md, "What
-- is rejected"); these checks are the last line of defence for any other writer.
-- float8 has three values that are not numbers a market publishes: 'infinity',
-- '-infinity' and 'NaN'. PostgreSQL orders NaN above every other float8, infinity
-- included, so "x < 'infinity'" rejects +infinity and NaN, and "x > 0" (or
-- "x > '-infinity'") rejects -infinity. A NULL (an optional options field) passes.
--
-- Safe on an existing warehouse: each constraint is added NOT VALID (new rows are checked
-- from now on, on every partition, present and future), then validated in a
-- subtransaction. If rows already stored break it (Infinity trades loaded before this
-- migration), the migration still succeeds, the constraint stays NOT VALID and a
-- WARNING names it; delete those rows and run
--   alter table raw.<table> validate constraint <constraint>;
-- pg_constraint.convalidated shows which constraints are validated.

alter table raw.trades add constraint trades_finite_values check (
    price < 'infinity' and qty < 'infinity' and quote_qty >= 0 and quote_qty < 'infinity'
) not valid;

alter table raw.agg_trades add constraint agg_trades_finite_values check (
    price < 'infinity' and qty < 'infinity'
) not valid;

alter table raw.l1_quotes add constraint l1_quotes_finite_values check (
    bid_price > 0 and bid_price < 'infinity' and ask_price > 0 and ask_price < 'infinity'
    and bid_qty < 'infinity' and ask_qty < 'infinity'
) not valid;

-- numeric(4, 2) cannot hold infinity but can hold NaN, which also sorts above every number.
alter table raw.depth_bands add constraint depth_bands_finite_values check (
    band_pct < 100 and depth < 'infinity' and notional < 'infinity'
) not valid;

-- The Greeks and the mark are optional (NULL until the exchange publishes a mark) and may
-- be negative (delta, theta-like rounding), so they are only required finite.
alter table raw.options_chain add constraint options_chain_finite_values check (
    strike < 'infinity' and open_interest < 'infinity' and underlying_price < 'infinity'
    and contract_size > 0 and contract_size < 'infinity'
    and mark_price > '-infinity' and mark_price < 'infinity'
    and mark_iv > '-infinity' and mark_iv < 'infinity'
    and delta > '-infinity' and delta < 'infinity'
    and gamma > '-infinity' and gamma < 'infinity'
    and vega > '-infinity' and vega < 'infinity'
) not valid;

alter table raw.klines add constraint klines_finite_values check (
    open > 0 and open < 'infinity' and high > 0 and high < 'infinity'
    and low > 0 and low < 'infinity' and close > 0 and close < 'infinity'
    and volume >= 0 and volume < 'infinity' and quote_volume >= 0 and quote_volume < 'infinity'
    and taker_buy_volume >= 0 and taker_buy_volume < 'infinity'
    and taker_buy_quote_volume >= 0 and taker_buy_quote_volume < 'infinity'
    and trade_count >= 0
) not valid;

do $$
declare
    item record;
begin
    for item in
        select conrelid::regclass as tbl, conname
        from pg_constraint
        where connamespace = 'raw'::regnamespace and conname like '%\_finite\_values' and not convalidated
            and conrelid in (select oid from pg_class where relnamespace = 'raw'::regnamespace and relispartition is false)
    loop
        begin
            execute format('alter table %s validate constraint %I', item.tbl, item.conname);
        exception when check_violation then
            raise warning '% already holds rows that break %: left NOT VALID (new rows are checked); '
                'delete them, then: alter table % validate constraint %', item.tbl, item.conname, item.tbl, item.conname;
        end;
    end loop;
end;
$$;

-- Exchange ids (trade id, aggregate trade id, bookTicker update id) are unique per
-- exchange, market and symbol whatever the timestamp, but the primary key leads with
-- (symbol, ts): it cannot find a repeat of an id at another time. The loader looks up
-- "id between chunk_min and chunk_max" before inserting a chunk (python/db/copy.py).
-- Ids are appended in increasing order, so a BRIN index on the id keeps each block
-- range's min/max id and finds the few ranges holding a chunk's ids, for a few pages
-- per partition. Created on the parent, it is created on every partition, present and
-- future.
create index if not exists trades_trade_id_brin on raw.trades using brin (trade_id);
create index if not exists agg_trades_agg_trade_id_brin on raw.agg_trades using brin (agg_trade_id);
create index if not exists l1_quotes_update_id_brin on raw.l1_quotes using brin (update_id);

-- The rows of one table whose id lies in [low, high], read through the BRIN index. The
-- planner cannot be left to choose: a partition without statistics yet (a new week,
-- filled by the very load that asks) makes the BRIN look like a full scan (no
-- correlation known) and the primary key look cheap (PostgreSQL 18 skip-scans its
-- leading symbol and ts for the id), which really reads the whole index, chunk after
-- chunk. With plain index, index-only and sequential scans off for this one query, a
-- bitmap scan of the BRIN is what remains. Called as
--   select * from raw.rows_with_id_between(null::raw.trades, 'trade_id', 100, 200)
create or replace function raw.rows_with_id_between(
    model anyelement, id_column text, low bigint, high bigint
) returns setof anyelement
language plpgsql stable
set enable_seqscan = off
set enable_indexscan = off
set enable_indexonlyscan = off
set max_parallel_workers_per_gather = 0
as $$
begin
    return query execute format('select * from %s where %I between $1 and $2', pg_typeof(model), id_column)
        using low, high;
end;
$$;

-- BRIN summarizes a block range when VACUUM (or this function) runs, not when rows are
-- inserted: until then every page of the range is a candidate of every lookup. A loader
-- summarizes the weekly partitions it just wrote to (rows of its own, still uncommitted
-- transaction included), so the next chunk's lookup reads only the ranges holding its
-- ids. brin_summarize_new_values takes a SHARE UPDATE EXCLUSIVE lock only for the call.
-- Partitions are found by the name raw.ensure_week_partitions gives them.
create or replace function raw.summarize_week_brin(
    parent_index regclass, from_ts timestamptz, to_ts timestamptz
) returns integer
language plpgsql as $$
declare
    parent_table regclass := (select indrelid from pg_index where indexrelid = parent_index);
    parent_name text := (select relname from pg_class where oid = parent_table);
    week_start timestamptz := date_trunc('week', from_ts at time zone 'UTC') at time zone 'UTC';
    summarized integer := 0;
    child_index regclass;
begin
    while week_start <= to_ts loop
        select i.indexrelid into child_index
        from pg_index as i
        inner join pg_inherits as h on h.inhrelid = i.indexrelid and h.inhparent = parent_index
        where i.indrelid = to_regclass(
            format('raw.%I', format('%s_w%s', parent_name, to_char(week_start at time zone 'UTC', 'YYYYMMDD')))
        );
        if child_index is not null then
            summarized := summarized + brin_summarize_new_values(child_index);
        end if;
        week_start := week_start + interval '7 days';
    end loop;
    return summarized;
end;
$$;
