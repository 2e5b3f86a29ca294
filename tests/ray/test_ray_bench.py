"""`phago bench` on Ray: a series of configurations starts one local Ray and shuts it down."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

_SERIES_ON_RAY = """
import contextlib, io, json, os, sys
import ray
from phago.bench import BenchConfig
from phago.cli.bench import _run

os.environ.pop("RAY_ADDRESS", None)
inits = []
init = ray.init


def counted(*args, **kwargs):
    inits.append(kwargs.get("address"))
    return init(*args, **kwargs)


ray.init = counted
configs = [BenchConfig(shards=n, documents=6, ticks=2, queries=1, backend="ray") for n in (1, 2)]
out = io.StringIO()
with contextlib.redirect_stdout(out):
    _run(configs, True, False)
print(json.dumps({"inits": inits, "up": ray.is_initialized(), "rows": json.loads(out.getvalue())}))
"""


@pytest.mark.ray
def test_ray_starts_once_for_a_series_and_is_shut_down_after_it() -> None:
    """In a process of its own (a Ray this process may hold would be joined instead)."""
    done = subprocess.run(
        [sys.executable, "-c", _SERIES_ON_RAY], capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["inits"] == ["local"] and not seen["up"]
    rows = seen["rows"]
    assert [r["shards"] for r in rows] == [1, 2] and all(r["documents_digested"] == 6 for r in rows)
    assert all(r["startup_ms"] > 0 and r["total_time_ms"] < r["startup_ms"] * 10 for r in rows)
