"""Get archive files from the public data site (HTTP, with retries) or from a local mirror.

Both sources answer the same two questions for a relative path: its text (for
.CHECKSUM files) and a local file holding its bytes plus their sha256. A download
streams to disk in blocks, so memory does not grow with the archive.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sniper.ingest.config import RetryPolicy
from sniper.ingest.layout import sha256_of

BLOCK_BYTES = 1 << 20
# Statuses worth another try: the server is busy or briefly broken.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
USER_AGENT = "sniper-ingest/0.1 (+urllib)"
# Failures of the connection itself (refused, reset, timed out, truncated): worth another try.
NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, ConnectionError, socket.timeout, TimeoutError)

ProgressCallback = Callable[[int, int | None], None]  # (bytes just received, total bytes or None)


class MissingFile(Exception):
    """The source has no such file (HTTP 404, or absent from the mirror)."""


class FetchError(Exception):
    """The file could not be fetched: retries exhausted or a non-retryable HTTP status."""


@dataclass(frozen=True)
class Fetched:
    path: Path
    sha256: str
    size: int


class ArchiveSource(Protocol):
    def describe(self, relative_path: str) -> str: ...

    def read_text(self, relative_path: str) -> str: ...

    def fetch(self, relative_path: str, workdir: Path, on_bytes: ProgressCallback | None = None) -> Fetched: ...


class DirSource:
    """A local directory laid out like the public data site."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def describe(self, relative_path: str) -> str:
        return str(self.root / relative_path)

    def _path(self, relative_path: str) -> Path:
        path = self.root / relative_path
        if not path.is_file():
            raise MissingFile(f"{path} does not exist")
        return path

    def read_text(self, relative_path: str) -> str:
        return self._path(relative_path).read_text(encoding="utf-8", errors="replace")

    def fetch(self, relative_path: str, workdir: Path, on_bytes: ProgressCallback | None = None) -> Fetched:
        path = self._path(relative_path)
        size = path.stat().st_size
        if on_bytes:
            on_bytes(size, size)
        return Fetched(path=path, sha256=sha256_of(path), size=size)


class HttpSource:
    """The public data site (or any server with its layout), over urllib with bounded retries."""

    def __init__(self, base_url: str, retry: RetryPolicy, sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self.sleep = sleep

    def describe(self, relative_path: str) -> str:
        return f"{self.base_url}/{relative_path}"

    def read_text(self, relative_path: str) -> str:
        def read(response) -> str:
            return response.read().decode("utf-8", errors="replace")

        return self._with_retries(relative_path, read)

    def fetch(self, relative_path: str, workdir: Path, on_bytes: ProgressCallback | None = None) -> Fetched:
        target = workdir / Path(relative_path).name

        def download(response) -> Fetched:
            total = response.headers.get("Content-Length")
            total_bytes = int(total) if total and total.isdigit() else None
            digest = hashlib.sha256()
            size = 0
            with target.open("wb") as out:
                while block := response.read(BLOCK_BYTES):
                    out.write(block)
                    digest.update(block)
                    size += len(block)
                    if on_bytes:
                        on_bytes(len(block), total_bytes)
            if total_bytes is not None and size != total_bytes:
                raise http.client.IncompleteRead(b"", total_bytes - size)
            return Fetched(path=target, sha256=digest.hexdigest(), size=size)

        return self._with_retries(relative_path, download)

    def _with_retries(self, relative_path: str, handle):
        url = self.describe(relative_path)
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        last_error = "no attempt made"
        for attempt in range(self.retry.attempts):
            try:
                with urllib.request.urlopen(request, timeout=self.retry.timeout_seconds) as response:
                    return handle(response)
            except urllib.error.HTTPError as error:
                if error.code == 404:
                    raise MissingFile(f"{url} answered 404 Not Found") from None
                if error.code not in RETRY_STATUSES:
                    raise FetchError(f"{url} answered HTTP {error.code} {error.reason}") from None
                last_error = f"HTTP {error.code} {error.reason}"
            except NETWORK_ERRORS as error:
                reason = getattr(error, "reason", None) or error
                last_error = f"{type(error).__name__}: {reason}"
            if attempt + 1 < self.retry.attempts:
                self.sleep(self.retry.delay(attempt))
        raise FetchError(f"{url} failed after {self.retry.attempts} attempts, last error {last_error}")

