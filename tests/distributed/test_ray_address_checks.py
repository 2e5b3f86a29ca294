"""Where a Ray address comes from when none is given: ``RAY_ADDRESS``, which ``ray.init``
joins in place of no address or ``"auto"``. One nobody answers at fails within seconds,
naming it and the variable (Ray retried it for minutes), for ``DistributedColony``,
``phago run``, ``phago bench`` and ``phago cluster status``. No Ray cluster is needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from phago.errors import DistributedError

ray = pytest.importorskip("ray")

PHAGO = [sys.executable, "-m", "phago"]
DEAD = "127.0.0.1:1"  # a closed local port: refused at once
FROM_ENV = "from the RAY_ADDRESS environment variable"


def _env(**changes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    return {**env, **changes}


def _phago(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    """``phago *args``, and how long it took; a hang fails (TimeoutExpired), never blocks."""
    started = time.perf_counter()
    r = subprocess.run([*PHAGO, *args], capture_output=True, text=True, env=env, timeout=60)
    return r, time.perf_counter() - started


@pytest.mark.parametrize("value", [DEAD, f"ray://{DEAD}", "localhost:1"])
def test_ray_address_is_probed_when_no_address_is_given(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    from phago.distributed.backends.ray import check_reachable

    monkeypatch.setenv("RAY_ADDRESS", value)
    started = time.perf_counter()
    with pytest.raises(DistributedError) as info:
        check_reachable(None, timeout_s=2.0)
    said = str(info.value)
    assert said.startswith(f"no Ray cluster at {value!r} ({FROM_ENV}): cannot connect")
    assert "unset RAY_ADDRESS to start a local Ray" in said and "ray start --head" in said
    assert "\n" not in said and "cluster file" not in said
    assert time.perf_counter() - started < 5.0


def test_ray_address_auto_is_probed_at_the_cluster_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ray._private import services

    from phago.distributed.backends.ray import check_reachable

    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    # (no Ray running here: "auto" would take any one running on this machine over the file)
    monkeypatch.setattr(services, "find_gcs_addresses", lambda: [])
    for value in ("", "local", "auto"):  # a new local Ray, or no cluster file: left to Ray
        monkeypatch.setenv("RAY_ADDRESS", value)
        check_reachable(None)
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "ray_current_cluster").write_text(DEAD)
    with pytest.raises(
        DistributedError,
        match=r"^no Ray cluster at '127.0.0.1:1' \(the address that "
        r"RAY_ADDRESS=auto finds in Ray's cluster file\).*unset RAY_ADDRESS",
    ):
        check_reachable(None, timeout_s=2.0)


def test_auto_names_ray_address_not_the_cluster_file(monkeypatch: pytest.MonkeyPatch) -> None:
    from phago.distributed.backends.ray import check_reachable, resolve_address

    monkeypatch.setenv("RAY_ADDRESS", DEAD)
    with pytest.raises(DistributedError) as info:
        check_reachable("auto", timeout_s=2.0)
    said = str(info.value)
    assert said.startswith(f"no Ray cluster at {DEAD!r} ({FROM_ENV}, which Ray takes for 'auto')")
    assert "cluster file" not in said and "ray stop" not in said
    assert resolve_address("auto") == (DEAD, f"{FROM_ENV}, which Ray takes for 'auto'")
    assert resolve_address("10.0.0.5:6379") == ("10.0.0.5:6379", "")  # given: wins


def test_distributed_colony_on_ray_fails_fast_at_a_dead_ray_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from phago.distributed import DistributedColony

    def never(**kwargs: Any) -> None:  # (Ray would retry the dead address for minutes)
        raise AssertionError(f"ray.init reached with {kwargs}")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", never)
    monkeypatch.setenv("RAY_ADDRESS", DEAD)
    with pytest.raises(DistributedError, match=rf"'127.0.0.1:1' \({FROM_ENV}\)"):
        DistributedColony(2, backend="ray")


@pytest.mark.parametrize("command", ["bench", "run"])
def test_cli_on_ray_fails_fast_at_a_dead_ray_address(tmp_path: Path, command: str) -> None:
    (tmp_path / "a.txt").write_text("Cells digest proteins in the lysosome.\n")
    bench = ["bench", "custom", "--backend", "ray", "--shards", "1", "--docs", "4"]
    args = (
        [*bench, "--ticks", "1", "--queries", "1", "--json"]
        if command == "bench"
        else ["run", "--backend", "ray", "--corpus", str(tmp_path), "--json"]
    )
    r, took = _phago(args, _env(RAY_ADDRESS=DEAD, RAY_TMPDIR=str(tmp_path)))
    assert r.returncode == 1, r.stderr[-2000:]
    error = json.loads(r.stdout)["error"]
    assert error["type"] == "DistributedError"
    assert error["message"].startswith(f"no Ray cluster at {DEAD!r}")
    if command == "run":  # (bench joins RAY_ADDRESS itself, before any colony)
        assert error["message"].startswith(f"no Ray cluster at {DEAD!r} ({FROM_ENV})")
    assert took < 30


def test_cluster_status_says_the_address_came_from_ray_address(tmp_path: Path) -> None:
    r, took = _phago(["cluster", "status"], _env(RAY_ADDRESS=DEAD, RAY_TMPDIR=str(tmp_path)))
    assert r.returncode == 1
    assert f"no Ray cluster at {DEAD!r} ({FROM_ENV}, which Ray takes for 'auto')" in r.stderr
    assert "cluster file" not in r.stderr and "Traceback" not in r.stderr
    assert took < 30


def test_cluster_status_titles_the_address_joined(monkeypatch: pytest.MonkeyPatch) -> None:
    from phago.cli import main
    from phago.distributed.backends import ray_cluster

    class Context:
        gcs_address = "192.0.2.2:6379"

    monkeypatch.setattr(ray, "is_initialized", lambda: True)  # (joined: nothing to start)
    monkeypatch.setattr(ray, "get_runtime_context", Context)
    monkeypatch.setattr(ray, "nodes", lambda: [{"Alive": True}])
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 4.0, "memory": 2**31})
    monkeypatch.setattr(ray, "available_resources", lambda: {"CPU": 3.0})
    monkeypatch.setattr(ray_cluster, "list_shard_actors", lambda ray: [])
    table = CliRunner().invoke(main, ["cluster", "status"])
    assert table.exit_code == 0, table.output
    said = " ".join(table.output.split())  # (the title wraps in a narrow table)
    assert "Ray cluster at 192.0.2.2:6379" in said and "at auto" not in said
    as_json = CliRunner().invoke(main, ["cluster", "status", "--json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert data["address"] == "auto" and data["joined"] == "192.0.2.2:6379"
    assert {"nodes", "cpus", "cpus_free", "memory_gib", "shard_actors"} <= set(data)
