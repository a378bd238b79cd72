"""Probability of backtest overfitting (PBO) by combinatorially symmetric cross-validation.

Bailey, Borwein, López de Prado and Zhu (2014), "The Probability of Backtest Overfitting"
(Journal of Computational Finance 20(4), 2017; SSRN 2326253). Input is a T x N matrix of
period returns: one column per configuration a run could have chosen (here: the entry
thresholds, each simulated on the same walk-forward test days), one row per period, oldest
first. The procedure (section 2 of the paper):

1. Cut the rows into ``S`` (even) contiguous blocks of ``T // S`` rows. When ``S`` does not
   divide ``T``, the OLDEST ``T % S`` rows are left out (as pypbo does; the paper asks for
   equal blocks and R's ``pbo`` refuses such a ``T``).
2. For each of the ``C(S, S/2)`` ways to pick ``S/2`` blocks: the picked blocks, in time
   order, are the in-sample half J, the others the out-of-sample half J-bar.
3. The performance statistic is the Sharpe ratio of each configuration on each half
   (per-period mean over sample stdev, ``ddof=1``, no risk-free rate: annualizing would not
   change a rank). A configuration that does not move in a half (zero stdev, e.g. a
   threshold that never trades there) has Sharpe 0 when its mean is 0, +-inf otherwise.
4. ``n*`` is the configuration with the best in-sample Sharpe (the first one on a tie, so
   the lowest threshold, as the threshold search does). Its out-of-sample rank among the
   N configurations (ties get their average rank, scipy's ``rankdata``) gives the relative
   rank ``w = rank / (N + 1)`` and the logit ``log(w / (1 - w))``.
5. PBO is the share of logits at or below 0: how often the in-sample best is at or below
   the median out of sample. A selection process that has learned something has PBO well
   below 0.5; pure noise gives 0.5 on average.

Expected values in ``tests/test_training_overfitting.py`` come from esvhd/pypbo.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
from scipy.stats import rankdata

DEFAULT_BLOCKS = 16  # the paper's choice of S in its examples (C(16, 8) = 12,870 splits)
MIN_CONFIGURATIONS = 2
MIN_ROWS_PER_HALF = 2  # a sample stdev needs two observations


def _matrix(returns) -> np.ndarray:
    array = np.asarray(returns.to_numpy() if hasattr(returns, "to_numpy") else returns, dtype=float)
    if array.ndim != 2:
        raise ValueError(f"returns must be a T x N matrix (rows: periods, columns: configurations), "
                         f"got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("returns contain NaN or infinite values; a configuration returns 0 on a day it is flat")
    if array.shape[1] < MIN_CONFIGURATIONS:
        raise ValueError(f"PBO compares configurations: need at least {MIN_CONFIGURATIONS} columns, "
                         f"got {array.shape[1]}")
    return array


def _blocks(n_rows: int, n_blocks: int) -> int:
    """Rows per block, after checking that ``n_blocks`` can split ``n_rows``."""
    if n_blocks < 2 or n_blocks % 2:
        raise ValueError(f"n_blocks (S) must be an even number of at least 2, got {n_blocks}")
    per_block = n_rows // n_blocks
    if per_block * (n_blocks // 2) < MIN_ROWS_PER_HALF:
        raise ValueError(
            f"{n_rows} rows cannot be cut into {n_blocks} blocks with at least {MIN_ROWS_PER_HALF} rows per half: "
            f"need at least {max(n_blocks, 2 * MIN_ROWS_PER_HALF)} rows"
        )
    return per_block


def _sharpe(total: np.ndarray, centred_squares: np.ndarray, centred_total: np.ndarray, rows: int) -> np.ndarray:
    """Per-period Sharpe ratio from sums over a half (squares taken around each column's overall mean)."""
    mean = total / rows
    variance = (centred_squares - centred_total**2 / rows) / (rows - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = mean / np.sqrt(np.maximum(variance, 0.0))
    flat = variance <= 0
    sharpe[flat] = np.where(mean[flat] == 0, 0.0, np.copysign(np.inf, mean[flat]))
    return sharpe


def cscv_logits(returns, *, n_blocks: int = DEFAULT_BLOCKS) -> np.ndarray:
    """The logit of the in-sample best configuration's out-of-sample relative rank, per CSCV split.

    One value per way of choosing ``n_blocks / 2`` of the ``n_blocks`` blocks as the
    in-sample half, in ``itertools.combinations`` order; the steps are in the module doc.

    >>> one_dominates = [[0.01, 0.0], [0.03, 0.02], [0.02, 0.01], [0.05, 0.04]]
    >>> np.round(cscv_logits(one_dominates, n_blocks=2), 4).tolist()   # rank 2 of 2: log((2/3) / (1/3))
    [0.6931, 0.6931]
    """
    matrix = _matrix(returns)
    per_block = _blocks(matrix.shape[0], n_blocks)
    used = matrix[matrix.shape[0] - per_block * n_blocks:]
    blocks = used.reshape(n_blocks, per_block, used.shape[1])
    centre = used.mean(axis=0)
    sums = blocks.sum(axis=1)  # S x N
    centred = blocks - centre
    centred_sums = centred.sum(axis=1)
    centred_squares = (centred**2).sum(axis=1)

    picks = np.array(list(combinations(range(n_blocks), n_blocks // 2)))
    chosen = np.zeros((len(picks), n_blocks), dtype=bool)
    chosen[np.arange(len(picks))[:, None], picks] = True
    half = per_block * (n_blocks // 2)
    totals = {}
    for name, per_block_sums in (("sum", sums), ("centred", centred_sums), ("squares", centred_squares)):
        inside = np.zeros((len(picks), used.shape[1]))
        for block in range(n_blocks):  # block by block: identical columns get identical sums
            inside += np.where(chosen[:, block, None], per_block_sums[block], 0.0)
        totals[name] = (inside, per_block_sums.sum(axis=0) - inside)
    in_sample = _sharpe(totals["sum"][0], totals["squares"][0], totals["centred"][0], half)
    out_of_sample = _sharpe(totals["sum"][1], totals["squares"][1], totals["centred"][1], half)

    best = np.argmax(in_sample, axis=1)  # the first maximum on a tie
    ranks = rankdata(out_of_sample, axis=1)  # 1 = worst; ties share their average rank
    relative = ranks[np.arange(len(picks)), best] / (used.shape[1] + 1)
    return np.log(relative / (1.0 - relative))


def probability_of_backtest_overfitting(returns, *, n_blocks: int = DEFAULT_BLOCKS) -> float:
    """PBO: the share of CSCV splits whose in-sample best configuration is at or below the median out of sample.

    ``returns`` is a T x N matrix (rows: periods, oldest first; columns: configurations)
    with no NaN; ``n_blocks`` is the paper's S (even). Raises ``ValueError`` when there are
    fewer than 2 configurations or too few rows for ``n_blocks``.

    Two configurations where the first is better in every half: never overfit.

    >>> probability_of_backtest_overfitting([[0.01, 0.0], [0.03, 0.02], [0.02, 0.01], [0.05, 0.04]], n_blocks=2)
    0.0

    Each configuration shines in one block and trails in the other: whichever wins in
    sample loses out of sample, always.

    >>> probability_of_backtest_overfitting([[0.02, 0.0], [0.04, 0.01], [0.0, 0.02], [0.01, 0.05]], n_blocks=2)
    1.0
    """
    logits = cscv_logits(returns, n_blocks=n_blocks)
    return float(np.mean(logits <= 0))


def pbo_or_reason(returns, *, n_blocks: int = DEFAULT_BLOCKS) -> tuple[float, str]:
    """PBO, or ``nan`` with the reason it cannot be computed (for the gate's note)."""
    try:
        return probability_of_backtest_overfitting(returns, n_blocks=n_blocks), ""
    except ValueError as error:
        return math.nan, f"not computed: {error}"
