"""The backfill sizes its window by the memory it may really use: inside a memory cgroup (a
container, or bench/bench_6gb.py's 6 GB group on a bigger host), the group's limit minus its
usage, not the host's free memory."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import pytest

CGROUP_V1_MEMORY = Path("/sys/fs/cgroup/memory")


@pytest.mark.skipif(os.geteuid() != 0 or not CGROUP_V1_MEMORY.is_dir(),
                    reason="needs root and the cgroup v1 memory controller")
def test_a_process_in_a_limited_cgroup_sees_the_limit_not_the_host():
    group = CGROUP_V1_MEMORY / f"sniper-test-{uuid.uuid4().hex[:8]}"
    group.mkdir()
    try:
        limit = 512 * 2**20
        (group / "memory.limit_in_bytes").write_text(str(limit))
        code = (
            f"open('{group}/cgroup.procs', 'w').write(str(__import__('os').getpid()))\n"
            "from sniper.memory import available_memory_mb\n"
            "from sniper.flows.backfill import window_days_for_memory\n"
            "print(available_memory_mb(), window_days_for_memory(7, 3, min_available_memory_mb=1500))\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
        available_mb, window_days = float(out[0]), int(out[1])
        assert 0 < available_mb <= limit / 2**20
        assert psutil.virtual_memory().available / 2**20 > 1500  # the host alone would not shrink it
        assert window_days == 3
    finally:
        for pid in (group / "cgroup.procs").read_text().split():
            (CGROUP_V1_MEMORY / "cgroup.procs").write_text(pid)
        group.rmdir()
