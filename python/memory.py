"""Memory this process may still use: the host's, or its control group's when that is smaller.

On a 6 GB host the two agree; in a container, or a cgroup set up to prove a 6 GB host on a
bigger machine (bench/bench_6gb.py), only the cgroup's limit minus its usage is really
available, whatever the host has free. cgroup v2 (memory.max, memory.current) and v1
(memory.limit_in_bytes, memory.usage_in_bytes minus reclaimable cache) are both read.
"""

from __future__ import annotations

from pathlib import Path

import psutil

CGROUP_MOUNT = Path("/sys/fs/cgroup")


def _own_cgroup_dirs(proc_cgroup: str, mount: Path) -> list[Path]:
    """The memory cgroup directories of this process, as /proc/self/cgroup names them."""
    dirs = []
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":  # v2: the unified hierarchy
            dirs.append(mount / path.lstrip("/"))
        elif "memory" in controllers.split(","):  # v1: the memory controller's hierarchy
            dirs.append(mount / "memory" / path.lstrip("/"))
    return dirs


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return None if text == "max" else int(text)


def cgroup_available_bytes(proc_cgroup: str | None = None, mount: Path = CGROUP_MOUNT) -> int | None:
    """Limit minus usage of this process's memory cgroup, or None when it has no limit.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> group = root / "memory" / "bench"; group.mkdir(parents=True)
    >>> _ = (group / "memory.limit_in_bytes").write_text(str(6 * 2**30))
    >>> _ = (group / "memory.usage_in_bytes").write_text(str(2 * 2**30))
    >>> _ = (group / "memory.stat").write_text("total_inactive_file 1073741824\\n")
    >>> cgroup_available_bytes("5:memory:/bench\\n", root) // 2**30
    5
    """
    if proc_cgroup is None:
        try:
            proc_cgroup = Path("/proc/self/cgroup").read_text()
        except OSError:
            return None
    for directory in _own_cgroup_dirs(proc_cgroup, mount):
        limit = _read_int(directory / "memory.max")
        usage = _read_int(directory / "memory.current")
        if limit is None:
            limit = _read_int(directory / "memory.limit_in_bytes")
            usage = _read_int(directory / "memory.usage_in_bytes")
        if limit is None or usage is None or limit >= 2**60:  # no limit (v1 says "9223372036854771712")
            continue
        stat = directory / "memory.stat"
        reclaimable = 0
        if stat.exists():
            values = dict(line.split() for line in stat.read_text().splitlines() if len(line.split()) == 2)
            reclaimable = int(values.get("total_inactive_file", values.get("inactive_file", 0)))
        return max(limit - usage + reclaimable, 0)
    return None


def available_memory_mb() -> float:
    """What this process may still allocate, in MiB: the smaller of the host's and its cgroup's."""
    available = psutil.virtual_memory().available
    in_cgroup = cgroup_available_bytes()
    if in_cgroup is not None:
        available = min(available, in_cgroup)
    return available / 2**20
