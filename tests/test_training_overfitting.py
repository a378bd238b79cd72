"""Probability of backtest overfitting (CSCV) against a published implementation and hand cases.

Reference values: esvhd/pypbo (github.com/esvhd/pypbo, commit ddbc631 of 2022-03-05,
``__version__ = 0.1``; not on PyPI, so run from its source) with scipy 1.17.1 and numpy
2.4.6. For each matrix below, built exactly as here (legacy ``RandomState``, whose stream
numpy keeps fixed), ``pypbo.pbo(M, S=S, metric_func=sharpe, threshold=0)`` was run with

    def sharpe(x):  # per-period Sharpe per column; a flat column has Sharpe 0
        mean, std = x.mean(axis=0), x.std(axis=0, ddof=1)
        return np.where(std > 0, mean / std, np.where(mean == 0, 0.0, np.sign(mean) * np.inf))

and its ``logits`` recorded: how many are <= 0 (PBO = that count / number of splits), their
mean and the first three. Over all 12,870 (S = 16) or 70 (S = 8) splits of each matrix, the
logits of pypbo and of ``cscv_logits`` differed by at most 1.4e-16.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sniper.training.overfitting import cscv_logits, probability_of_backtest_overfitting


def noise() -> np.ndarray:
    return np.random.RandomState(1).normal(0.0, 0.01, size=(200, 10))


def skill() -> np.ndarray:
    drift = 0.0015 * np.arange(8) / 7
    return np.random.RandomState(2).normal(0.0, 0.01, size=(200, 8)) + drift


def regime() -> np.ndarray:
    """The best configuration of the first half is the worst of the second."""
    base = np.random.RandomState(3).normal(0.0, 0.01, size=(100, 5))
    tilt = np.linspace(-0.002, 0.002, 5)
    base[:50] += tilt
    base[50:] -= tilt
    return base


def ties() -> np.ndarray:
    """Two configurations that never trade (all zero) and an exact copy of the first one."""
    base = np.random.RandomState(4).normal(0.0005, 0.01, size=(96, 6))
    return np.column_stack([base, np.zeros(96), base[:, 0], np.zeros(96)])


def thresholds() -> np.ndarray:
    """Nested entry thresholds: column k trades the day's signals scoring >= 0.5 + 0.04 k."""
    rng = np.random.RandomState(5)
    score = rng.uniform(0.0, 1.0, size=(90, 20))
    trade = 0.004 * (score - 0.5) + rng.normal(0.0, 0.01, size=(90, 20))
    return np.column_stack([np.where(score >= 0.5 + 0.04 * k, trade, 0.0).sum(axis=1) / 20 for k in range(12)])


# matrix, S, splits, logits <= 0, mean logit, first three logits (pypbo, see the module doc)
PYPBO = [
    (noise, 16, 12870, 9658, -0.7179609459263393, [-0.5596157879354227, -0.9808292530117264, -0.5596157879354227]),
    (skill, 16, 12870, 3161, 0.6244069222516994, [0.22314355131420988, 1.252762968495368, 0.22314355131420988]),
    (regime, 8, 70, 60, -0.5652359593844271, [-1.6094379124341005, -1.6094379124341005, -1.6094379124341005]),
    (ties, 16, 12870, 4079, 0.40328643368224976, [0.4054651081081643, 0.4054651081081643, 2.1972245773362196]),
    (thresholds, 16, 12870, 7947, -0.11620172912944471,
     [0.47000362924573574, 0.47000362924573574, -0.47000362924573547]),
]


@pytest.mark.parametrize(("make", "blocks", "splits", "overfit", "mean", "first"), PYPBO,
                         ids=[case[0].__name__ for case in PYPBO])
def test_matches_pypbo(make, blocks, splits, overfit, mean, first):
    logits = cscv_logits(make(), n_blocks=blocks)
    assert len(logits) == splits == math.comb(blocks, blocks // 2)
    assert int((logits <= 0).sum()) == overfit
    assert probability_of_backtest_overfitting(make(), n_blocks=blocks) == pytest.approx(overfit / splits, abs=1e-15)
    assert logits.mean() == pytest.approx(mean, abs=1e-12)
    assert logits[:3] == pytest.approx(first, abs=1e-12)


def test_one_configuration_better_in_every_block_is_never_overfit():
    # B = A - 1 %: same stdev, lower mean, so a lower Sharpe in every half.
    a = np.random.RandomState(6).normal(0.001, 0.01, size=64)
    matrix = np.column_stack([a, a - 0.01])
    logits = cscv_logits(matrix, n_blocks=16)
    # The in-sample best is A every time, and out of sample it ranks 2 of 2: w = 2/3, logit = log 2.
    assert logits == pytest.approx(np.full(12870, math.log(2)))
    assert probability_of_backtest_overfitting(matrix) == 0.0


def test_three_configurations_by_hand():
    # S = 2, blocks rows 0-1 and 2-3. Per-period Sharpe (mean / sample stdev; two points
    # a, b have stdev |a - b| / sqrt 2):
    #   block 0: A = 0.02 / 0.01414 = 1.414, B = 0.015 / 0.00707 = 2.121, C = -0.005 / 0.00707 = -0.707
    #   block 1: A = 0.01 / 0.01414 = 0.707, B = 0.006 / 0.00566 = 1.061, C = 0.035 / 0.00707 = 4.950
    # Split {0}: B is best in sample and ranks 2 of 3 out of sample: w = 2/4, logit 0 (counts as overfit).
    # Split {1}: C is best in sample and ranks 1 of 3 out of sample: w = 1/4, logit log(1/3).
    matrix = [[0.01, 0.01, 0.0], [0.03, 0.02, -0.01], [0.0, 0.002, 0.03], [0.02, 0.01, 0.04]]
    assert cscv_logits(matrix, n_blocks=2) == pytest.approx([0.0, math.log(1 / 3)])
    assert probability_of_backtest_overfitting(matrix, n_blocks=2) == 1.0


def test_pure_noise_is_overfit_half_of_the_time_on_average():
    # With iid columns the in-sample best's out-of-sample rank is uniform on 1..N, so for an
    # even N it lands at or below the median (rank <= N/2) with probability exactly 1/2.
    values = [probability_of_backtest_overfitting(np.random.RandomState(100 + seed).normal(0, 0.01, size=(96, 10)),
                                                  n_blocks=8) for seed in range(60)]
    mean, error = np.mean(values), np.std(values, ddof=1) / math.sqrt(len(values))
    assert abs(mean - 0.5) < 3 * error, (mean, error)
    assert 0.1 < error * math.sqrt(len(values)) < 0.45  # single runs do spread widely


def test_the_oldest_rows_that_do_not_fill_a_block_are_left_out():
    matrix = np.random.RandomState(7).normal(0, 0.01, size=(35, 4))  # 35 = 2 * 16 + 3
    changed_old = matrix.copy()
    changed_old[:3] = np.random.RandomState(8).normal(0, 0.5, size=(3, 4))
    assert np.array_equal(cscv_logits(matrix), cscv_logits(changed_old))
    changed_new = matrix.copy()
    changed_new[-1] = [0.5, -0.5, 0.5, -0.5]
    assert not np.array_equal(cscv_logits(matrix), cscv_logits(changed_new))


def test_a_configuration_that_never_trades_ranks_as_zero_sharpe():
    # A loses in every half, B never trades (Sharpe 0), so B is always the in-sample best
    # and ranks 2 of 2 out of sample.
    a = -0.002 + np.random.RandomState(9).normal(0, 0.001, size=32)
    assert probability_of_backtest_overfitting(np.column_stack([a, np.zeros(32)])) == 0.0


@pytest.mark.parametrize(
    ("matrix", "blocks", "message"),
    [
        (np.zeros((32, 1)), 16, "at least 2 columns"),
        (np.zeros(32), 16, "T x N matrix"),
        (np.full((32, 2), np.nan), 16, "NaN"),
        (np.zeros((15, 2)), 16, "15 rows cannot be cut into 16 blocks"),
        (np.zeros((32, 2)), 15, "even"),
        (np.zeros((32, 2)), 0, "even"),
        (np.zeros((3, 2)), 2, "need at least 4 rows"),
    ],
)
def test_rejects_what_cannot_be_cross_validated(matrix, blocks, message):
    with pytest.raises(ValueError, match=message):
        probability_of_backtest_overfitting(matrix, n_blocks=blocks)
