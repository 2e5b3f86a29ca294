"""How often Ray Client fails a driver's connection, with and without gRPC's fork handlers.

Ray 2.60's client server (the head's proxy on its Ray Client port) forks a process for each
``ray://`` driver; now and then that process dies in the fork (gRPC's fork handlers: ray
issue 63202) and the driver's ``ray.init`` fails after about 40 s with "Initialization
failure from server". This starts ``--heads`` heads with ``ray start --head --block`` (2
CPUs, each in a temporary directory of its own), connects ``--drivers`` drivers in turn to
each (``ray.init("ray://...")`` in a process of its own, then ``ray.shutdown()``), and
counts the failures, once with the head's environment as it is and once with
``GRPC_ENABLE_FORK_SUPPORT=false`` (docs/distributed.md says to start heads so).

Usage:
    python benchmarks/ray_client_connections.py [--heads 6] [--drivers 4]

Prints a table: connections, failed, and the median and longest seconds a connection took.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CONNECT = "import ray, sys; ray.init(sys.argv[1], logging_level='ERROR'); ray.shutdown()"


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def accepts(port: int) -> bool:
    """Whether something accepts connections on ``port`` of this machine."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def head(fork_support: bool) -> Iterator[tuple[str, dict[str, str]]]:
    """A head node (no token), its Ray Client address and the drivers' environment."""
    home = tempfile.mkdtemp(prefix="phc", dir="/tmp")  # (short: Ray's socket paths)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_ADDRESS", "RAY_AUTH"))}
    env.update(RAY_TMPDIR=home, HOME=home)
    if not fork_support:
        env["GRPC_ENABLE_FORK_SUPPORT"] = "false"
    gcs, client = free_port(), free_port()
    ray_cli = str(Path(sys.executable).with_name("ray"))
    command = [ray_cli, "start", "--head", "--block", f"--port={gcs}", "--num-cpus=2"]
    command += [f"--ray-client-server-port={client}", "--include-dashboard=false"]
    command += ["--disable-usage-stats", "--object-store-memory=268435456"]
    proc = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120.0
        while not accepts(client):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("`ray start --head` did not come up")
            time.sleep(0.2)
        yield f"ray://127.0.0.1:{client}", env
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)


def connections(fork_support: bool, heads: int, drivers: int) -> list[tuple[float, bool]]:
    """Each connection's seconds and whether it failed, over ``heads`` heads."""
    seen: list[tuple[float, bool]] = []
    for _ in range(heads):
        with head(fork_support) as (address, env):
            for _ in range(drivers):
                began = time.perf_counter()
                r = subprocess.run(
                    [sys.executable, "-c", CONNECT, address],
                    capture_output=True,
                    text=True,
                    env=env,
                    timeout=300,
                )
                seen.append((time.perf_counter() - began, r.returncode != 0))
    return seen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--heads", type=int, default=6)
    ap.add_argument("--drivers", type=int, default=4)
    a = ap.parse_args()
    header = ("head environment", "connections", "failed", "median s", "max s")
    print("{:<34} {:>11} {:>6} {:>8} {:>6}".format(*header))
    for fork_support, name in [(True, "as it is"), (False, "GRPC_ENABLE_FORK_SUPPORT=false")]:
        seen = connections(fork_support, a.heads, a.drivers)
        times = [t for t, _ in seen]
        failed = sum(f for _, f in seen)
        print(
            f"{name:<34} {len(seen):>11} {failed:>6} {statistics.median(times):>8.1f} "
            f"{max(times):>6.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
