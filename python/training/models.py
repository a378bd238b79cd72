"""The registry of model kinds (`--model`); XGBoost is the only kind for now.

A kind is a small class over a shared interface: fit on a feature matrix and a binary
target, give win probabilities, save itself next to its metadata.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from sniper.errors import UserError


class EntryModel(Protocol):
    kind: ClassVar[str]

    def fit(self, features: pd.DataFrame, wins: np.ndarray) -> EntryModel: ...

    def win_probability(self, features: pd.DataFrame) -> np.ndarray: ...

    def feature_importance(self) -> dict[str, float]: ...

    def save(self, path: Path) -> Path: ...


class XGBoostParams(BaseModel):
    """Shallow, regularized trees: the edge is small and the samples overlap in time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_estimators: int = Field(default=200, ge=1)
    max_depth: int = Field(default=3, ge=1)
    learning_rate: float = Field(default=0.05, gt=0)
    subsample: float = Field(default=0.8, gt=0, le=1)
    colsample_bytree: float = Field(default=0.8, gt=0, le=1)
    min_child_weight: float = Field(default=20.0, ge=0)
    reg_lambda: float = Field(default=5.0, ge=0)
    seed: int = 7
    # One thread: the host also runs PostgreSQL (and, at night, the backfill); with both
    # cores busy, two OpenMP threads made boosting about 6x slower, while one thread on a
    # quiet machine costs about 1.7x. Raise it on a dedicated training host.
    n_jobs: int = Field(default=1, ge=1)


class XGBoostEntryModel:
    """XGBoost's native API (no scikit-learn needed): binary logistic boosting, fixed seed."""

    kind: ClassVar[str] = "xgboost"

    def __init__(self, params: XGBoostParams | None = None):
        self.params = params or XGBoostParams()
        self._booster = None
        self._columns: list[str] = []

    def _booster_params(self) -> dict:
        p = self.params
        return {
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "tree_method": "hist",
            "max_depth": p.max_depth,
            "eta": p.learning_rate,
            "subsample": p.subsample,
            "colsample_bytree": p.colsample_bytree,
            "min_child_weight": p.min_child_weight,
            "lambda": p.reg_lambda,
            "seed": p.seed,
            "nthread": p.n_jobs,
        }

    def fit(self, features: pd.DataFrame, wins: np.ndarray) -> XGBoostEntryModel:
        import xgboost

        self._columns = list(features.columns)
        matrix = xgboost.DMatrix(features, label=np.asarray(wins, dtype=np.float32), feature_names=self._columns)
        self._booster = xgboost.train(self._booster_params(), matrix, num_boost_round=self.params.n_estimators)
        return self

    def win_probability(self, features: pd.DataFrame) -> np.ndarray:
        import xgboost

        matrix = xgboost.DMatrix(features[self._columns], feature_names=self._columns)
        return self._booster.predict(matrix)

    def feature_importance(self) -> dict[str, float]:
        gains = self._booster.get_score(importance_type="gain")
        total = sum(gains.values()) or 1.0
        return {column: gains.get(column, 0.0) / total for column in self._columns}

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._booster.save_model(str(path))
        return path

    @classmethod
    def load(cls, path: Path, columns: list[str]) -> XGBoostEntryModel:
        """A model saved by ``save``, predicting from ``columns`` (the run's feature columns)."""
        import xgboost

        model = cls()
        model._booster = xgboost.Booster(model_file=str(path))
        model._columns = list(columns)
        return model


MODEL_KINDS: dict[str, type] = {XGBoostEntryModel.kind: XGBoostEntryModel}


def model_kind(name: str) -> type:
    try:
        return MODEL_KINDS[name]
    except KeyError:
        raise UserError(f"unknown --model {name!r}; valid: {', '.join(sorted(MODEL_KINDS))}") from None
