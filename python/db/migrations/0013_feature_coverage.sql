-- Each training run records the coverage of every requested feature group over the rows it
-- trained and was tested on, overall and per month (python/training/coverage.py): a list of
-- {"group", "overall", "by_month": {"YYYY-MM": share}}. Runs stored before: NULL.
alter table evaluation.model_runs add column if not exists feature_coverage jsonb;
comment on column evaluation.model_runs.feature_coverage is
    'Per requested feature group: share of the run''s rows where its columns hold values, overall and per month.';
