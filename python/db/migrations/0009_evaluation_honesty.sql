-- Two more honest verdict figures per training run (issue 16; docs/evaluation.md):
-- the probability of backtest overfitting over the entry-threshold candidates (CSCV,
-- Bailey, Borwein, Lopez de Prado and Zhu 2014) and the SPA p-value (Hansen 2005) that the
-- model beats trading at random, always long and always short as often as it did. Runs
-- stored before this migration have NULL in all three.
alter table evaluation.model_runs add column if not exists pbo float8;
alter table evaluation.model_runs add column if not exists spa_p_value float8;
alter table evaluation.model_runs add column if not exists baseline_tests jsonb;

comment on column evaluation.model_runs.pbo is
    'Probability of backtest overfitting over the threshold candidates'' walk-forward test days; NULL: not computable.';
comment on column evaluation.model_runs.spa_p_value is
    'Largest SPA p-value of the model against the random, always-long and always-short baselines; NULL: undefined.';
comment on column evaluation.model_runs.baseline_tests is
    'One object per baseline: baseline, p_value, model_mean_return, baseline_mean_return, n_days, note.';
