-- A backfill window may span up to a quarter (92 days): the nightly job uses 7 days, the
-- demo compresses its nights into quarter-long windows, and a catch-up on a big server may
-- take longer ones. The dbt window macro has no upper bound of its own.
alter table ops.backfill_runs drop constraint if exists backfill_runs_window_days_check;
alter table ops.backfill_runs
    add constraint backfill_runs_window_days_check check (window_days between 1 and 92);
