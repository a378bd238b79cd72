"""``sniper train``: the roadmap's training command, run as the Prefect flow once."""

from __future__ import annotations

import argparse

from pydantic import ValidationError
from rich.console import Console

from sniper.db.connection import connect
from sniper.errors import UserError
from sniper.prefect_env import quiet_prefect
from sniper.training.features import DEFAULT_FEATURES, feature_columns
from sniper.training.models import model_kind
from sniper.validation import parse_date

console = Console()


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser("train", help="train and evaluate the sniper-entry model; prints the verdict")
    parser.add_argument("--data-range", default="last_3_months",
                        choices=["last_1_month", "last_3_months", "last_6_months", "last_12_months", "all"])
    parser.add_argument("--start", help="first day of the training window (overrides --data-range)")
    parser.add_argument("--end", help="end of the data, exclusive (default: after the last labelled day)")
    parser.add_argument("--model", default="xgboost")
    parser.add_argument("--features", default=",".join(DEFAULT_FEATURES))
    parser.add_argument("--min-feature-coverage", type=float, default=0.8, metavar="SHARE",
                        help="refuse a feature group with values in less than this share of the rows (default 0.8)")
    parser.add_argument("--allow-missing-features", action="store_true",
                        help="train anyway, the missing values kept as NaN (XGBoost learns where they go)")
    parser.add_argument("--dask", choices=["auto", "local", "off"],
                        help="where the folds and fits run: a local Dask cluster, this process, or auto (local"
                             " on 4+ cores); default: SNIPER_DASK or auto")
    parser.add_argument("--dask-address", metavar="ADDRESS",
                        help="an existing Dask scheduler, e.g. tcp://host:8786 (default: SNIPER_DASK_ADDRESS)")
    parser.add_argument("--dask-workers", type=int, metavar="N", help="worker processes of a local cluster (default 2)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    features = [name.strip() for name in args.features.split(",") if name.strip()]
    feature_columns(features)  # unknown names fail here, with the valid ones listed
    model_kind(args.model)
    start = parse_date(args.start, name="--start") if args.start is not None else None
    end = parse_date(args.end, name="--end") if args.end is not None else None
    if start and end and start >= end:
        raise UserError(f"--start {start} is not before --end {end}")
    if not 0.0 <= args.min_feature_coverage <= 1.0:
        raise UserError(f"--min-feature-coverage must be between 0 and 1, got {args.min_feature_coverage}")
    parallel_config(args)  # a bad --dask-address is one line, before Prefect starts
    connect().close()  # an unreachable or stopped database is one line, before Prefect starts
    quiet_prefect()
    from sniper.flows.train import train

    try:
        result = train(data_range=args.data_range, model=args.model, features=features, start=start, end=end,
                       min_feature_coverage=args.min_feature_coverage,
                       allow_missing_features=args.allow_missing_features, dask=args.dask,
                       dask_address=args.dask_address, dask_local_workers=args.dask_workers)
    except ValidationError as error:
        raise UserError(f"invalid training request: {error.errors()[0]['msg']}") from None
    console.print(f"run {result.run_id}: trained {result.train_start} .. {result.data_end}")
    console.print(result.report)
    for alarm in result.alarms:
        console.print(f"ALARM  {alarm}")
    console.print(result.diagnosis)
    console.print(f"model: {result.artifact_dir}")
    return result.exit_code


def parallel_config(args: argparse.Namespace):
    """The --dask options over the SNIPER_DASK* settings, checked (one line on a mistake)."""
    from sniper.training.fanout import ParallelConfig

    chosen = {"dask": args.dask, "dask_address": args.dask_address, "dask_local_workers": args.dask_workers}
    try:
        return ParallelConfig(**{name: value for name, value in chosen.items() if value is not None})
    except ValidationError as error:
        first = error.errors()[0]
        option = {"dask_address": "--dask-address", "dask_local_workers": "--dask-workers"}.get(
            str(first["loc"][0]) if first["loc"] else "", "--dask")
        raise UserError(f"invalid {option}: {first['msg'].removeprefix('Value error, ')}") from None
