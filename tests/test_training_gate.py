"""Gate, alarms and diagnosis on hand-made metric inputs."""

from __future__ import annotations

import json
import math

import pytest
from pydantic import ValidationError

from sniper.training.gate import (
    CRITERIA,
    EXIT_KEEP_COLLECTING,
    EXIT_READY,
    KEEP_COLLECTING,
    READY,
    AlarmConfig,
    GateConfig,
    MonthResult,
    diagnose_data_needs,
    pooled_win_rate,
    readiness_gate,
    regime_change_alarms,
    side_bias_alarm,
)


def month(name: str, trades: int, wins: int, regime: str | None = None) -> MonthResult:
    return MonthResult(month=name, n_trades=trades, n_wins=wins, regime=regime)


# Four test months; the last three pool to (60 + 55 + 70) / (100 + 90 + 110) = 185 / 300 = 0.61667.
GOOD_MONTHS = [
    month("2024-01", 50, 20),
    month("2024-02", 100, 60),
    month("2024-03", 90, 55),
    month("2024-04", 110, 70),
]


def gate(months=GOOD_MONTHS, *, sharpe=1.8, drawdown=0.08, unseen=True, pbo=0.2, spa=0.01, config=None, **notes):
    return readiness_gate(
        months, sharpe=sharpe, max_drawdown=drawdown, tested_on_unseen_regime=unseen, pbo=pbo, spa_p_value=spa,
        config=config, **notes,
    )


def passed(result) -> dict[str, bool]:
    return {criterion.key: criterion.passed for criterion in result.criteria}


def all_but(*failing: str) -> dict[str, bool]:
    return {key: key not in failing for key in CRITERIA}


class TestReadinessGate:
    def test_ready_when_every_criterion_passes(self):
        result = gate()
        assert result.verdict == READY == "READY FOR LIVE TRADING"
        assert result.exit_code == EXIT_READY == 0
        assert [c.key for c in result.criteria] == list(CRITERIA)
        win, sharpe, drawdown, regime = (result.criterion(key) for key in ("win_rate", "sharpe", "max_drawdown",
                                                                          "unseen_regime"))
        assert win.value == pytest.approx(185 / 300) and win.threshold == 0.55 and win.passed
        assert win.note == "2024-02..2024-04"  # the first month is not among the last three
        assert (sharpe.value, sharpe.comparison, sharpe.threshold, sharpe.passed) == (1.8, ">", 1.5, True)
        assert (drawdown.value, drawdown.comparison, drawdown.threshold) == (0.08, "<", 0.12)
        assert drawdown.passed
        assert (regime.value, regime.passed) == (True, True)
        pbo, spa = result.criterion("pbo"), result.criterion("spa")
        assert (pbo.value, pbo.comparison, pbo.threshold, pbo.passed) == (0.2, "<", 0.5, True)
        assert (spa.value, spa.comparison, spa.threshold, spa.passed) == (0.01, "<", 0.05, True)

    @pytest.mark.parametrize(
        ("change", "failing"),
        [
            ({"sharpe": 1.2}, "sharpe"),
            ({"drawdown": 0.15}, "max_drawdown"),
            ({"unseen": False}, "unseen_regime"),
            ({"sharpe": math.nan}, "sharpe"),
            ({"drawdown": math.nan}, "max_drawdown"),
            ({"pbo": 0.7}, "pbo"),
            ({"pbo": math.nan}, "pbo"),
            ({"spa": 0.2}, "spa"),
            ({"spa": math.nan}, "spa"),
        ],
    )
    def test_any_failing_criterion_keeps_collecting(self, change, failing):
        result = gate(**change)
        assert result.verdict == KEEP_COLLECTING == "KEEP COLLECTING DATA"
        assert result.exit_code == EXIT_KEEP_COLLECTING == 3
        assert passed(result) == all_but(failing)

    def test_thresholds_themselves_fail(self):
        # 33 / 60 = 0.55 exactly, Sharpe 1.5, drawdown 0.12, PBO 0.5 (the paper's boundary: the
        # in-sample best is as likely below the median out of sample as above it), p 0.05.
        at_limit = [month("2024-01", 20, 11), month("2024-02", 20, 11), month("2024-03", 20, 11)]
        result = gate(at_limit, sharpe=1.5, drawdown=0.12, pbo=0.5, spa=0.05)
        assert passed(result) == all_but("win_rate", "sharpe", "max_drawdown", "pbo", "spa")

    def test_an_uncomputable_pbo_or_p_value_fails_with_its_reason(self):
        reason = "not computed: 12 rows cannot be cut into 16 blocks with at least 2 rows per half"
        result = gate(pbo=math.nan, pbo_note=reason, spa=math.nan)
        assert result.criterion("pbo").note == reason and not result.criterion("pbo").passed
        assert result.criterion("spa").note == "not computed" and not result.criterion("spa").passed
        assert result.verdict == KEEP_COLLECTING

    def test_unknown_criterion_key_raises(self):
        with pytest.raises(KeyError, match="no criterion 'luck'"):
            gate().criterion("luck")

    def test_win_rate_is_pooled_over_trades_not_averaged_over_months(self):
        # Monthly rates 0.9, 0.5, 0.5 average 0.633, but the trades pool to
        # (9 + 50 + 50) / (10 + 100 + 100) = 109 / 210 = 0.519: a thin lucky month must not pass the gate.
        months = [month("2024-01", 10, 9), month("2024-02", 100, 50), month("2024-03", 100, 50)]
        win = gate(months).criterion("win_rate")
        assert win.value == pytest.approx(109 / 210)
        assert not win.passed

    def test_fewer_test_months_than_required_fails(self):
        result = gate(GOOD_MONTHS[-2:])  # 125 / 200 = 0.625 but over two months only
        win = result.criterion("win_rate")
        assert win.value == pytest.approx(0.625) and not win.passed
        assert win.note == "only 2 of 3 test months"
        assert result.verdict == KEEP_COLLECTING

    def test_months_are_ordered_by_calendar_not_by_argument_order(self):
        assert gate(list(reversed(GOOD_MONTHS))).criterion("win_rate").value == pytest.approx(185 / 300)

    def test_thresholds_are_configurable(self):
        config = GateConfig(min_win_rate=0.62, win_rate_months=2, min_sharpe=2.0, max_drawdown=0.05, max_pbo=0.1,
                            max_spa_p_value=0.001)
        result = gate(config=config)
        # Last two months: (55 + 70) / 200 = 0.625 > 0.62; Sharpe 1.8 < 2.0; drawdown 0.08 > 0.05;
        # PBO 0.2 > 0.1; p-value 0.01 > 0.001.
        assert passed(result) == all_but("sharpe", "max_drawdown", "pbo", "spa")
        assert result.config == config
        without_regime = gate(unseen=False, config=GateConfig(require_unseen_regime=False))
        assert without_regime.verdict == READY

    def test_report_lists_every_criterion_then_the_verdict(self):
        lines = gate(sharpe=1.2).report().splitlines()
        assert lines[0] == "PASS  win rate, last 3 test months pooled: 0.6167 > 0.5500  (2024-02..2024-04)"
        assert lines[1] == "FAIL  Sharpe ratio of daily test returns: 1.2000 > 1.5000"
        assert lines[4] == "PASS  probability of backtest overfitting (thresholds, CSCV): 0.2000 < 0.5000"
        assert lines[-1] == "KEEP COLLECTING DATA"

    def test_result_serializes_next_to_the_artifacts(self):
        payload = json.loads(gate().model_dump_json())
        assert payload["verdict"] == READY and len(payload["criteria"]) == len(CRITERIA) == 6
        assert payload["config"]["min_sharpe"] == 1.5

    def test_rejects_inconsistent_months(self):
        with pytest.raises(ValidationError):
            month("2024-01", 10, 11)
        with pytest.raises(ValidationError):
            month("2024-13", 10, 5)
        with pytest.raises(ValueError, match="twice"):
            gate([month("2024-01", 10, 5), month("2024-01", 10, 6)])

    def test_pooled_win_rate_without_trades_is_nan(self):
        assert math.isnan(pooled_win_rate([month("2024-01", 0, 0)]))


class TestRegimeChangeAlarm:
    def test_moves_above_ten_points_alarm(self):
        # Rates 0.50, 0.62, 0.55, 0.65, 0.40: moves +12, -7, +10 (exactly the limit), -25 points.
        months = [month("2024-01", 100, 50), month("2024-02", 100, 62), month("2024-03", 100, 55),
                  month("2024-04", 100, 65), month("2024-05", 100, 40)]
        alarms = regime_change_alarms(months)
        assert [(a.month, round(a.value, 4)) for a in alarms] == [("2024-02", 0.12), ("2024-05", -0.25)]
        assert alarms[1].message == "win rate moved -25.0 points from 2024-04 to 2024-05 (limit 10.0)"
        assert all(a.kind == "regime_change" and a.threshold == 0.10 for a in alarms)

    def test_threshold_is_a_parameter(self):
        months = [month("2024-01", 100, 50), month("2024-02", 100, 57)]
        assert regime_change_alarms(months) == []
        assert [a.month for a in regime_change_alarms(months, AlarmConfig(max_win_rate_move=0.05))] == ["2024-02"]

    def test_month_without_trades_breaks_the_comparison(self):
        months = [month("2024-01", 100, 80), month("2024-02", 0, 0), month("2024-03", 100, 40)]
        assert regime_change_alarms(months) == []


class TestSideBiasAlarm:
    @pytest.mark.parametrize(
        ("long_share", "side", "share"), [(0.85, "long", 0.85), (0.1, "short", 0.9), (1.0, "long", 1.0)]
    )
    def test_one_sided_predictions_alarm(self, long_share, side, share):
        alarm = side_bias_alarm(long_share)
        assert alarm.kind == "side_bias" and alarm.value == pytest.approx(share)
        assert f"are {side}" in alarm.message

    @pytest.mark.parametrize("long_share", [0.8, 0.2, 0.5, math.nan])
    def test_balanced_enough_or_no_trades_is_quiet(self, long_share):
        assert side_bias_alarm(long_share) is None

    def test_threshold_is_a_parameter(self):
        assert side_bias_alarm(0.75, AlarmConfig(max_side_share=0.7)).value == 0.75

    def test_rejects_impossible_share(self):
        with pytest.raises(ValueError):
            side_bias_alarm(1.2)


class TestDiagnosis:
    REGIMES = {"bull": 5000, "bear": 800, "sideways": 3000}

    def diagnose(self, months, *, sharpe=1.2, long_share=0.5, regimes=None):
        return diagnose_data_needs(
            months, sharpe=sharpe, long_share=long_share, samples_by_regime=regimes or self.REGIMES
        )

    def test_losing_newest_month_is_urgent_and_names_the_scarcest_regime(self):
        # Newest month 2024-03: 45 / 100 = 45 % < 50 %. The older good month does not matter.
        result = self.diagnose([month("2024-03", 100, 45), month("2024-02", 100, 70)])
        assert result.urgent
        assert result.reasons == ["win rate 45.0% in 2024-03 is below 50%"]
        assert result.scarcest_regime == "bear"
        assert result.message == "MORE DATA NEEDED URGENTLY: collect bear data (800 training samples, the fewest)"

    def test_low_sharpe_and_bias_are_reasons_too(self):
        result = self.diagnose([month("2024-03", 100, 60)], sharpe=0.5, long_share=0.9)
        assert result.urgent
        assert result.reasons == [
            "Sharpe ratio 0.50 is below 0.80",
            "predictions biased: 90% of trades are long (limit 80%)",
        ]

    def test_no_trades_or_undefined_sharpe_are_reasons(self):
        result = self.diagnose([month("2024-03", 0, 0)], sharpe=math.nan)
        assert result.reasons == [
            "no trades in the newest test month",
            "Sharpe ratio undefined (no variation in daily returns)",
        ]

    def test_healthy_model_is_not_urgent(self):
        # 50 % exactly is not below 50 %; Sharpe 0.8 is not below 0.8; 80 % longs is not above 80 %.
        result = self.diagnose([month("2024-03", 100, 50)], sharpe=0.8, long_share=0.8)
        assert not result.urgent and result.reasons == []
        assert result.message == "no urgent need for data"
        assert result.scarcest_regime == "bear"

    def test_a_regime_with_no_sample_is_the_scarcest_and_ties_are_alphabetical(self):
        result = self.diagnose([month("2024-03", 100, 30)], regimes={"sideways": 0, "bull": 10, "bear": 0})
        assert result.scarcest_regime == "bear"
        assert "collect bear data (0 training samples" in result.message
