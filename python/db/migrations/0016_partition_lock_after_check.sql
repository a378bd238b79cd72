-- raw.ensure_week_partitions took its lock before it looked. The lock is a transaction's, and
-- the ingest writer calls the function inside its load's transaction: every loader held it
-- until its load committed, so two loads of different files took turns, even when every
-- partition they needed existed. Now the function looks first and locks only when a
-- partition is missing, then looks again under the lock.
-- The lock is the parent table's SHARE UPDATE EXCLUSIVE, the one CREATE TABLE ... PARTITION OF
-- takes anyway (loaders' inserts take ROW EXCLUSIVE, which it does not block), not the advisory
-- lock of 0001: taking a table lock refreshes the catalog this transaction sees, so the second
-- look finds a partition another loader committed while this one waited. After an advisory
-- lock it did not, and the second loader failed on "relation ... already exists".
create or replace function raw.ensure_week_partitions(
    parent regclass, from_ts timestamptz, to_ts timestamptz
) returns integer
language plpgsql as $$
declare
    week_start timestamptz := date_trunc('week', from_ts at time zone 'UTC') at time zone 'UTC';
    parent_name text := (select relname from pg_class where oid = parent);
    created integer := 0;
    locked boolean := false;
    partition_name text;
begin
    while week_start < to_ts loop
        partition_name := format('%s_w%s', parent_name, to_char(week_start at time zone 'UTC', 'YYYYMMDD'));
        if to_regclass(format('raw.%I', partition_name)) is null and not locked then
            -- Concurrent loaders must not race to create the same partition.
            execute format('lock table %s in share update exclusive mode', parent);
            locked := true;
        end if;
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
