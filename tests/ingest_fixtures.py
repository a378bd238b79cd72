"""Builders for the ingest tests: Binance-layout archives in tmp dirs, and a local HTTP server.

Rows are generated here as plain Python tuples; tests compute their expected values
from these tuples (or from the files), never from what the loader reports.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from sniper.ingest.layout import ArchiveName

MS_PER_DAY = 86_400_000

SPOT_TRADES_HEADER = "id,price,qty,quote_qty,time,is_buyer_maker,is_best_match"
UM_TRADES_HEADER = "id,price,qty,quote_qty,time,is_buyer_maker"
UM_AGG_HEADER = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"
KLINES_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore"
)
TARDIS_HEADER = (
    "exchange,symbol,timestamp,local_timestamp,type,strike_price,expiration,open_interest,last_price,bid_price,"
    "bid_amount,bid_iv,ask_price,ask_amount,ask_iv,mark_price,mark_iv,underlying_index,underlying_price,delta,"
    "gamma,vega,theta,rho"
)


def day_start_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()) * 1000


@dataclass(frozen=True)
class Trade:
    trade_id: int
    price: float
    qty: float
    time: int  # ms, or µs for spot files from 2025 on
    is_buyer_maker: bool

    @property
    def quote_qty(self) -> float:
        return round(self.price * self.qty, 8)


def make_trades(day: date, n: int, first_id: int, *, micros: bool = False) -> list[Trade]:
    """n trades spread over the day with prices and sizes that are exact in decimal."""
    start = day_start_ms(day)
    step = MS_PER_DAY // (n + 1)
    trades = []
    for i in range(n):
        time_ms = start + (i + 1) * step
        time = time_ms * 1000 + (i % 997) if micros else time_ms
        price = 60_000 + (i * 37 % 2_000) + (i % 100) / 100
        qty = round(0.001 * (1 + i % 250), 3)
        trades.append(Trade(first_id + i, price, qty, time, i % 3 == 0))
    return trades


def spot_trade_line(t: Trade, *, python_bools: bool = True) -> str:
    maker = str(t.is_buyer_maker) if python_bools else str(t.is_buyer_maker).lower()
    return f"{t.trade_id},{t.price:.8f},{t.qty:.8f},{t.quote_qty:.8f},{t.time},{maker},True"


def um_trade_line(t: Trade) -> str:
    return f"{t.trade_id},{t.price:.1f},{t.qty:.3f},{t.quote_qty:.5f},{t.time},{str(t.is_buyer_maker).lower()}"


def agg_trade_line(t: Trade, *, spot: bool) -> str:
    first = t.trade_id * 3
    last = first + t.trade_id % 3
    maker = str(t.is_buyer_maker) if spot else str(t.is_buyer_maker).lower()
    tail = ",True" if spot else ""
    return f"{t.trade_id},{t.price:.2f},{t.qty:.3f},{first},{last},{t.time},{maker}{tail}"


@dataclass(frozen=True)
class Kline:
    open_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    count: int

    @property
    def close_time(self) -> int:
        return self.open_time + 59_999


def make_klines(day: date) -> list[Kline]:
    start = day_start_ms(day)
    klines = []
    for i in range(1440):
        base = 60_000 + (i * 13 % 700)
        klines.append(Kline(start + i * 60_000, base, base + 25.5, base - 12.25, base + 3.5, round(1 + (i % 40) * 0.5, 3), 10 + i % 90))
    return klines


def kline_line(k: Kline) -> str:
    quote = round(k.volume * k.close, 4)
    return (
        f"{k.open_time},{k.open:.2f},{k.high:.2f},{k.low:.2f},{k.close:.2f},{k.volume:.3f},{k.close_time},"
        f"{quote},{k.count},{k.volume / 2:.4f},{quote / 2:.4f},0"
    )


def csv_text(lines: list[str], header: str | None = None) -> str:
    return "\n".join(([header] if header else []) + lines) + "\n"


def zip_bytes(member: str, text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, text)
    return buffer.getvalue()


def write_archive(
    root: Path,
    name: ArchiveName,
    text: str | None = None,
    *,
    payload: bytes | None = None,
    member: str | None = None,
    checksum: str = "good",
) -> bytes:
    """Write ``name``'s zip (or raw ``payload``) under root, and its .CHECKSUM ("good", "bad" or "none")."""
    data = payload if payload is not None else zip_bytes(member or name.csv_name, text or "")
    path = root / name.relative_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    if checksum == "bad":
        digest = hashlib.sha256(data + b"tampered").hexdigest()
    if checksum != "none":
        (root / name.checksum_path).write_text(f"{digest}  {name.zip_name}\n")
    return data


@dataclass
class ServerLog:
    requests: list[str] = field(default_factory=list)
    answers: list[tuple[str, int]] = field(default_factory=list)  # (path, HTTP status) of every answer
    # path -> actions to take on its next requests: "503" or "drop" (close without answering)
    faults: dict[str, list[str]] = field(default_factory=dict)


class _Handler(http.server.SimpleHTTPRequestHandler):
    log: ServerLog

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        path = self.path.lstrip("/")
        self.log.requests.append(path)
        actions = self.log.faults.get(path)
        if actions:
            action = actions.pop(0)
            if action == "503":
                self.send_error(503, "Service Unavailable")
                return
            if action == "drop":
                self.close_connection = True
                return
        super().do_GET()

    def send_response(self, code: int, message: str | None = None) -> None:
        self.log.answers.append((self.path.lstrip("/"), code))
        super().send_response(code, message)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (signature of the base class)
        pass


@contextmanager
def archive_server(root: Path) -> Iterator[tuple[str, ServerLog]]:
    """Serve ``root`` on 127.0.0.1 (port chosen by the OS) in a thread; yields (base URL, request log)."""
    log = ServerLog()
    handler = functools.partial(type("Handler", (_Handler,), {"log": log}), directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", log
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def write_gzip_lines(path: Path, lines: list[str]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line + "\n")
    return path


def stream_line(receive_ns: int, stream: str, data: dict) -> str:
    """One recording line: `<local receive ns> {"stream": ..., "data": ...}` (compact JSON, as captured)."""
    return f"{receive_ns} {json.dumps({'stream': stream, 'data': data}, separators=(',', ':'))}"


def spot_trade_message(trade_id: int, time_ms: int, price: str, qty: str, *, maker: bool = False) -> dict:
    """A spot `@trade` payload (no `X`: that marks futures); prices and sizes as Binance sends them, strings."""
    return {"e": "trade", "E": time_ms, "s": "BTCUSDT", "t": trade_id, "p": price, "q": qty, "T": time_ms, "m": maker,
            "M": True}


def spot_book_ticker_message(update_id: int, bid: str, bid_qty: str, ask: str, ask_qty: str) -> dict:
    """A spot `@bookTicker` payload (no `T`/`E`: its row takes the local receive time)."""
    return {"u": update_id, "s": "BTCUSDT", "b": bid, "B": bid_qty, "a": ask, "A": ask_qty}
