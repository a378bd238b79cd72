"""Which 5-minute buckets a live materialization cycle builds: the ones that closed since the
last cycle, and the ones late ticks reached (docs/live.md, "Live materialization").

The watermark is ops.live_buckets: one row per instrument and bucket built, with when
(``materialized_at``, the start of the build) and how far the instrument's live coverage
reached then (``covered_through_at``: the newest ``last_ts`` of its recorder spans). A
recorder span commits every trade up to its ``last_ts`` before it moves ``last_ts`` on
(docs/live.md, "The covered interval"), so after a bucket was built the only ticks that can
still reach it are:

* from a live span, those after ``covered_through_at``: a span that has advanced since (its
  ledger row's ``loaded_at`` is newer) past ``covered_through_at`` into the bucket;
* from any other load (an archive, a capture, a synthetic day), everything it covers: a
  ledger row committed after the build whose interval overlaps the bucket.

Either is a late bucket, built again; no other bucket is ever built twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import psycopg

from sniper.dbt_vars import ProjectVars
from sniper.instruments import Instrument

BUCKET = timedelta(minutes=5)
EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
LIVE_SOURCE_KIND = "live"


def bucket_floor(at: datetime) -> datetime:
    """The start of the 5-minute bucket holding ``at`` (UTC).

    >>> bucket_floor(datetime(2024, 7, 18, 10, 7, 31, tzinfo=timezone.utc)).isoformat()
    '2024-07-18T10:05:00+00:00'
    """
    return EPOCH + (at - EPOCH) // BUCKET * BUCKET


@dataclass(frozen=True)
class BucketRun:
    """Contiguous buckets [start_at, end_at) of some instruments, built by one dbt build."""

    instruments: tuple[Instrument, ...]
    start_at: datetime
    end_at: datetime
    late: tuple[datetime, ...] = ()

    @property
    def buckets(self) -> list[datetime]:
        count = (self.end_at - self.start_at) // BUCKET
        return [self.start_at + i * BUCKET for i in range(count)]

    def project_vars(self) -> ProjectVars:
        """The window of the run: the UTC day(s) holding it, narrowed to its buckets.

        >>> run = BucketRun((Instrument("binance", "um", "BTCUSDT"),),
        ...                 datetime(2024, 7, 18, 23, 50, tzinfo=timezone.utc),
        ...                 datetime(2024, 7, 19, 0, 5, tzinfo=timezone.utc))
        >>> run.project_vars().overrides()["window_start"], run.project_vars().window_days
        ('2024-07-18', 2)
        >>> run.project_vars().window_first_minute, run.project_vars().window_end_minute
        (1430, 1445)
        """
        first_day = self.start_at.date()
        last_day = (self.end_at - timedelta(microseconds=1)).date()
        midnight = datetime.combine(first_day, datetime.min.time(), tzinfo=timezone.utc)
        return ProjectVars(
            window_start=first_day,
            window_days=(last_day - first_day).days + 1,
            window_first_minute=int((self.start_at - midnight).total_seconds() // 60),
            window_end_minute=int((self.end_at - midnight).total_seconds() // 60),
            instruments=[instrument.key for instrument in self.instruments],
            force_recompute=True,
        )


@dataclass(frozen=True)
class InstrumentPlan:
    """What one instrument needs this cycle."""

    instrument: Instrument
    new: list[datetime]  # closed since the last cycle, never built
    late: list[datetime]  # built before, reached by late ticks since
    covered_through_at: datetime | None  # its live spans' newest last_ts now


@dataclass
class CyclePlan:
    due_until: datetime
    instruments: list[InstrumentPlan] = field(default_factory=list)

    def runs(self) -> list[BucketRun]:
        """Contiguous buckets, one dbt build each; instruments with the same buckets share one."""
        by_range: dict[tuple[datetime, datetime], list[tuple[Instrument, tuple[datetime, ...]]]] = {}
        for plan in self.instruments:
            late = set(plan.late)
            for start, end in contiguous(sorted({*plan.new, *plan.late})):
                in_run = tuple(b for b in sorted(late) if start <= b < end)
                by_range.setdefault((start, end), []).append((plan.instrument, in_run))
        runs = []
        for (start, end), members in sorted(by_range.items()):
            late = tuple(sorted({b for _, buckets in members for b in buckets}))
            runs.append(BucketRun(tuple(sorted(i for i, _ in members)), start, end, late))
        return runs


def contiguous(buckets: Iterable[datetime]) -> list[tuple[datetime, datetime]]:
    """Sorted bucket starts grouped into half-open runs of consecutive buckets.

    >>> t = lambda m: datetime(2024, 1, 1, 0, m, tzinfo=timezone.utc)
    >>> [(a.minute, b.minute) for a, b in contiguous([t(0), t(5), t(15)])]
    [(0, 10), (15, 20)]
    """
    runs: list[tuple[datetime, datetime]] = []
    for bucket in buckets:
        if runs and runs[-1][1] == bucket:
            runs[-1] = (runs[-1][0], bucket + BUCKET)
        else:
            runs.append((bucket, bucket + BUCKET))
    return runs


def live_instruments(conn: psycopg.Connection, since: datetime) -> list[Instrument]:
    """Instruments with a load (a live span, or any other) whose data reach past ``since``."""
    rows = conn.execute(
        "select distinct exchange, market, symbol from raw.load_ledger"
        " where first_ts is not null and last_ts >= %s and market in ('spot', 'um')",
        (since,),
    ).fetchall()
    instruments = []
    for exchange, market, symbol in rows:
        try:
            instruments.append(Instrument(exchange, market, symbol))
        except ValueError:
            continue  # not an instrument the warehouse builds (the planner skips it too)
    return sorted(instruments)


def covered_through(conn: psycopg.Connection, instrument: Instrument) -> datetime | None:
    """The newest covered exchange time of the instrument's live recorder spans."""
    return conn.execute(
        "select max(last_ts) from raw.load_ledger where source_kind = %s"
        " and exchange = %s and market = %s and symbol = %s",
        (LIVE_SOURCE_KIND, instrument.exchange, instrument.market, instrument.symbol),
    ).fetchone()[0]


def plan_instrument(
    conn: psycopg.Connection, instrument: Instrument, *, due_until: datetime, catch_up_from: datetime
) -> InstrumentPlan:
    """New buckets: from the last built one (or ``catch_up_from``, or the first data after it)
    up to ``due_until``; late buckets: by the rule of the module doc."""
    key = (instrument.exchange, instrument.market, instrument.symbol)
    newest_built = conn.execute(
        "select max(bucket_start_at) from ops.live_buckets where exchange = %s and market = %s and symbol = %s",
        key,
    ).fetchone()[0]
    if newest_built is not None:
        start = max(newest_built + BUCKET, catch_up_from)
    else:
        first_data = conn.execute(
            "select min(greatest(first_ts, %s)) from raw.load_ledger"
            " where exchange = %s and market = %s and symbol = %s and first_ts is not null and last_ts >= %s",
            (catch_up_from, *key, catch_up_from),
        ).fetchone()[0]
        start = bucket_floor(first_data) if first_data is not None else due_until
    new = []
    bucket = start
    while bucket < due_until:
        new.append(bucket)
        bucket += BUCKET
    late = [
        row[0]
        for row in conn.execute(
            "select built.bucket_start_at from ops.live_buckets as built"
            " where built.exchange = %s and built.market = %s and built.symbol = %s"
            "   and built.bucket_start_at >= %s"
            "   and exists ("
            "     select 1 from raw.load_ledger as loads"
            "     where loads.exchange = built.exchange and loads.market = built.market"
            "       and loads.symbol = built.symbol and loads.first_ts is not null"
            "       and loads.loaded_at > built.materialized_at"
            "       and loads.last_ts >= built.bucket_start_at"
            "       and case when loads.source_kind = %s"
            # a live span's ticks up to covered_through_at were in when the bucket was built
            "           then loads.last_ts > coalesce(built.covered_through_at, '-infinity')"
            "                and greatest(loads.first_ts, coalesce(built.covered_through_at, '-infinity'))"
            "                    < built.bucket_start_at + interval '5 minutes'"
            "           else loads.first_ts < built.bucket_start_at + interval '5 minutes' end"
            "   )"
            " order by 1",
            (*key, catch_up_from, LIVE_SOURCE_KIND),
        )
    ]
    return InstrumentPlan(instrument, new, late, covered_through(conn, instrument))


def plan_cycle(conn: psycopg.Connection, *, as_of: datetime, catch_up: timedelta) -> CyclePlan:
    """Every instrument with data since ``as_of - catch_up``: its new and late buckets, all
    closed by ``as_of`` (buckets ending at or before it)."""
    due_until = bucket_floor(as_of)
    catch_up_from = bucket_floor(as_of - catch_up)
    plan = CyclePlan(due_until)
    for instrument in live_instruments(conn, catch_up_from):
        instrument_plan = plan_instrument(conn, instrument, due_until=due_until, catch_up_from=catch_up_from)
        if instrument_plan.new or instrument_plan.late:
            plan.instruments.append(instrument_plan)
    return plan


def record_built(
    conn: psycopg.Connection,
    run: BucketRun,
    *,
    materialized_at: datetime,
    covered: dict[str, datetime | None],  # by instrument key
    flow_run_id: str | None,
) -> None:
    """The watermark rows of a finished build (one per instrument and bucket)."""
    rows = [
        (i.exchange, i.market, i.symbol, bucket, materialized_at, covered.get(i.key), flow_run_id)
        for i in run.instruments
        for bucket in run.buckets
    ]
    with conn.transaction(), conn.cursor() as cursor:
        cursor.executemany(
            "insert into ops.live_buckets as built (exchange, market, symbol, bucket_start_at, materialized_at,"
            " covered_through_at, flow_run_id) values (%s, %s, %s, %s, %s, %s, %s)"
            " on conflict (exchange, market, symbol, bucket_start_at) do update set"
            " materialized_at = excluded.materialized_at, covered_through_at = excluded.covered_through_at,"
            " flow_run_id = excluded.flow_run_id, times_materialized = built.times_materialized + 1",
            rows,
        )


def days_of(run: BucketRun) -> list[date]:
    """The UTC days a run's buckets lie in."""
    first, last = run.start_at.date(), (run.end_at - timedelta(microseconds=1)).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
