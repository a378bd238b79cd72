"""A progress bar per file (bytes read or downloaded, rows loaded); silent off a terminal."""

from __future__ import annotations

import sys
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)


class FileProgress(Protocol):
    def start(self, name: str, total_bytes: int | None = None) -> None: ...

    def advance_bytes(self, count: int, total_bytes: int | None = None) -> None: ...

    def add_rows(self, count: int) -> None: ...


class NoProgress:
    """For library callers and tests: reports nothing."""

    def start(self, name: str, total_bytes: int | None = None) -> None:
        pass

    def advance_bytes(self, count: int, total_bytes: int | None = None) -> None:
        pass

    def add_rows(self, count: int) -> None:
        pass


class RichFileProgress:
    """One rich task per file; disabled unless stderr is a terminal."""

    def __init__(self, *, enabled: bool | None = None) -> None:
        enabled = sys.stderr.isatty() if enabled is None else enabled
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TextColumn("{task.fields[rows]:>12,} rows"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=not enabled,
        )
        self.task: TaskID | None = None
        self.rows = 0

    def __enter__(self) -> RichFileProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def start(self, name: str, total_bytes: int | None = None) -> None:
        self.rows = 0
        self.task = self.progress.add_task(name, total=total_bytes, rows=0)

    def advance_bytes(self, count: int, total_bytes: int | None = None) -> None:
        if self.task is not None:
            self.progress.update(self.task, advance=count, total=total_bytes)

    def add_rows(self, count: int) -> None:
        if self.task is not None:
            self.rows += count
            self.progress.update(self.task, rows=self.rows)
