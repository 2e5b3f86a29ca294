"""Joining a cluster started with `ray start --head`, as the README says to: by its address,
with ``auto`` and through Ray Client (``ray://``), from driver processes of their own.

The cluster is a real head node (2 CPUs) started once for this module with ``ray start
--head --block`` in a temporary directory of its own (``RAY_TMPDIR``, and ``HOME`` for any
Ray token file), and stopped at the end: this test session's own local Ray is left alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from distributed_signature import signature_digest
from phago.corpus import grid_positions, load_sample_corpus
from phago.distributed import DistributedColony

pytest.importorskip("ray", reason="the ray extra is part of `make setup`")
pytestmark = pytest.mark.ray

TESTS = Path(__file__).resolve().parents[1]
RUN = ["--shards", "2", "--digesters", "4", "--json"]
COMPARED = ("tick", "documents_total", "documents_digested", "graph_nodes", "graph_edges")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Head:
    """A running head node: its GCS and Ray Client ports, and the environment that finds
    it (``auto``)."""

    gcs: int
    client: int
    env: dict[str, str]

    def address(self, kind: str) -> str:
        return {
            "gcs": f"127.0.0.1:{self.gcs}",
            "auto": "auto",
            "client": f"ray://127.0.0.1:{self.client}",
        }[kind]

    def phago(self, *args: str, timeout: float = 240.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "phago", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
        )

    def run_script(self, script: str, *args: str) -> dict[str, Any]:
        """Run ``script`` (with ``args``) as a driver process on the cluster to its end;
        what its last line printed, as JSON."""
        r = subprocess.run(
            [sys.executable, "-c", script, *args],
            capture_output=True,
            text=True,
            timeout=300,
            env=self.env,
        )
        assert r.returncode == 0, r.stderr[-3000:]
        said: dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
        return said

    @contextlib.contextmanager
    def driver(self, script: str, *args: str) -> Iterator[Driver]:
        """A driver process running ``script`` (with ``args``) on the cluster, once it has
        printed its first line; killed at the end if it still runs."""
        proc = subprocess.Popen(
            [sys.executable, "-c", script, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            assert first, proc.stderr.read()[-3000:] if proc.stderr else ""
            yield Driver(proc, json.loads(first))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)


@dataclass
class Driver:
    """A driver process waiting on its standard input: what it printed first (JSON)."""

    proc: subprocess.Popen[str]
    first: Any

    def go(self, timeout: float = 300.0) -> Any:
        """Tell it to go on; its last line (JSON) once it has exited cleanly."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        out, err = self.proc.communicate(timeout=timeout)
        assert self.proc.returncode == 0, err[-3000:]
        return json.loads(out.strip().splitlines()[-1])


@contextlib.contextmanager
def _head(token: bool) -> Iterator[Head]:
    """``ray start --head --block`` in a temporary home of its own; with ``token``, a token
    in its ``~/.ray/auth_token``, which turns Ray's token authentication on (as on a
    machine where a local Ray once ran: ``ray.init`` writes one). The drivers share the
    home (so they find the cluster with ``auto``, and the token) and, with ``token``, set
    ``RAY_AUTH_MODE=token`` to send it."""
    # a short directory: Ray's Unix sockets live under it (paths are limited to 107 bytes)
    home = tempfile.mkdtemp(prefix="phr", dir="/tmp")
    if token:
        (Path(home) / ".ray").mkdir()
        (Path(home) / ".ray" / "auth_token").write_text(secrets.token_hex(32))
    env = {
        **os.environ,
        # as docs/distributed.md advises for a head that serves Ray Client: without it, Ray
        # 2.60's client server now and then loses the process it starts for a client (ray
        # issue 63202: gRPC's fork handlers crash it), and that connection fails after 40 s
        "GRPC_ENABLE_FORK_SUPPORT": "false",
        "RAY_TMPDIR": home,
        "HOME": home,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    for name in ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        env.pop(name, None)  # (this session's own Ray set RAY_AUTH_MODE in this process)
    gcs, client = _free_port(), _free_port()
    ray_cli = str(Path(sys.executable).with_name("ray"))
    log = open(Path(home) / "head.log", "w")  # noqa: SIM115 (closed at the end)
    proc = subprocess.Popen(
        [
            ray_cli,
            "start",
            "--head",
            "--block",
            f"--port={gcs}",
            f"--ray-client-server-port={client}",
            "--num-cpus=2",
            "--object-store-memory=268435456",
            "--include-dashboard=false",
            "--disable-usage-stats",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120.0
        while not _accepts(client):  # the client server comes up last
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    "`ray start --head` did not come up:\n" + (Path(home) / "head.log").read_text()
                )
            time.sleep(0.2)
        said = (Path(home) / "head.log").read_text()
        assert f"Token authentication is {'enabled' if token else 'disabled'}" in said, said
        # a driver of a cluster with authentication sends its token in token mode
        yield Head(gcs, client, {**env, "RAY_AUTH_MODE": "token"} if token else env)
    finally:
        proc.send_signal(signal.SIGTERM)  # --block: the head stops its processes and exits
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def head() -> Iterator[Head]:
    """A head with token authentication on."""
    with _head(token=True) as h:
        yield h


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def local_run() -> dict[str, Any]:
    from click.testing import CliRunner

    from phago.cli import main

    r = CliRunner().invoke(main, ["run", "--backend", "local", *RUN])
    assert r.exit_code == 0, r.output
    out: dict[str, Any] = json.loads(r.output)
    return out


_CLIENT_SERVER_FAILED = "Starting Ray client server failed"
"""What Ray Client's proxy answers when the server it starts for a client dies at once
(see ``GRPC_ENABLE_FORK_SUPPORT`` in :func:`_head`; phago reports it and tries once more)."""


def _status(head: Head, address: str, actors: int) -> dict[str, Any]:
    """`phago cluster status --json` from a process of its own, asked again (up to 30 s)
    until it lists ``actors`` shard actors and, with none, has every CPU free."""
    deadline = time.monotonic() + 30.0
    while True:
        r = head.phago("cluster", "status", "--address", address, "--json", timeout=120.0)
        if r.returncode and _CLIENT_SERVER_FAILED in r.stderr and time.monotonic() < deadline:
            continue  # (Ray's proxy lost the server it started for this client)
        assert r.returncode == 0, r.stderr[-3000:]
        data: dict[str, Any] = json.loads(r.stdout)
        settled = len(data["shard_actors"]) == actors and (actors or data["cpus_free"] == 2.0)
        if settled or time.monotonic() > deadline:
            return data
        time.sleep(0.5)


@pytest.mark.parametrize("kind", ["gcs", "auto"])
def test_phago_run_joins_a_cluster_started_with_ray_start(
    head: Head, local_run: dict[str, Any], kind: str
) -> None:
    address = head.address(kind)
    r = head.phago("run", "--backend", "ray", "--address", address, *RUN)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout)
    assert got["backend"] == "ray" and got["documents_digested"] == 40
    assert {k: got[k] for k in COMPARED} == {k: local_run[k] for k in COMPARED}
    assert got["cross_shard_edges"] == local_run["cross_shard_edges"]
    assert [(s["graph_nodes"], s["graph_edges"]) for s in got["shards"]] == [
        (s["graph_nodes"], s["graph_edges"]) for s in local_run["shards"]
    ]
    # the run's driver has gone: its actors with it, the cluster still up, every CPU free
    status = _status(head, address, actors=0)
    assert status["nodes"] == 1 and status["cpus"] == 2.0 and status["cpus_free"] == 2.0
    assert status["shard_actors"] == []


DRIVER = """
import json, sys, time
from distributed_signature import signature_digest
from phago.corpus import grid_positions, load_sample_corpus
from phago.distributed import DistributedColony

docs = load_sample_corpus()
items = [(d.title, d.content, p) for d, p in zip(docs, grid_positions(len(docs)))]
dc = DistributedColony(2, backend="ray", address=sys.argv[1], seed=0, checkpoint_every=5,
                       ray_options={"num_cpus": 0.5})
dc.ingest_documents(items)
dc.spawn_digesters(2, max_idle=60)
dc.run(8)
print(json.dumps({"names": dc.ray_actor_names}), flush=True)
sys.stdin.readline()  # the test has listed the actors from another process
import ray  # (imported by the colony, after phago turned token authentication on)
actor = dc.ray_actor(0)
ray.kill(actor)
while True:  # until the kill has taken effect
    try:
        ray.get(actor.ping.remote(), timeout=10)
    except ray.exceptions.RayActorError:
        break
    time.sleep(0.05)
results = dc.run(7)
recovered = [r.recovered.replayed_ticks for r in results if r.recovered is not None]
signature = signature_digest(dc)
print(json.dumps({"names": dc.ray_actor_names, "recovered": recovered, "tick": dc.current_tick,
                  "signature": signature}), flush=True)
dc.close()
"""


def _uninterrupted_signature(ticks: int) -> str:
    """The drivers' colony run ``ticks`` ticks on two local shards: its graph's digest."""
    docs = load_sample_corpus()
    items = [(d.title, d.content, p) for d, p in zip(docs, grid_positions(len(docs)), strict=True)]
    with DistributedColony(2, seed=0) as clean:
        clean.ingest_documents(items)
        clean.spawn_digesters(2, max_idle=60)
        clean.run(ticks)
        return signature_digest(clean)


@pytest.mark.parametrize("kind", ["client", "gcs"])
def test_a_driver_on_the_cluster_recovers_a_killed_actor_and_others_see_its_shards(
    head: Head, kind: str
) -> None:
    expected = _uninterrupted_signature(15)
    address = head.address(kind)
    with head.driver(DRIVER, address) as driver:
        names = driver.first["names"]
        colony = names[0].split(".shard-")[0]
        # another process (`phago cluster status`) lists the running colony's actors
        status = _status(head, address, actors=2)
        rows = [r for r in status["shard_actors"] if r["colony"] == colony]
        assert [(r["shard"], r["generation"], r["tick"]) for r in rows] == [(0, 0, 8), (1, 0, 8)]
        assert status["cpus_free"] == 1.0  # two actors of half a CPU
        after = driver.go()
        assert after["tick"] == 15 and len(after["recovered"]) == 1
        assert after["names"] == [f"{colony}.shard-0.1", names[1]]
        assert after["signature"] == expected  # the same graph as an uninterrupted run
    assert _status(head, address, actors=0)["shard_actors"] == []


def test_a_cluster_without_authentication_is_joined_the_same(local_run: dict[str, Any]) -> None:
    # (by address: Ray Client's path is the same with or without a token)
    with _head(token=False) as open_head:
        address = open_head.address("gcs")
        r = open_head.phago("run", "--backend", "ray", "--address", address, *RUN)
        assert r.returncode == 0, r.stderr[-3000:]
        got = json.loads(r.stdout)
        assert {k: got[k] for k in COMPARED} == {k: local_run[k] for k in COMPARED}
        assert _status(open_head, address, actors=0)["cpus_free"] == 2.0


def test_a_driver_that_does_not_send_the_token_is_told_to(head: Head) -> None:
    # the token in its home, RAY_AUTH_MODE not set: phago says what to set, with Ray's
    # error, and no traceback; at once, from one connection to the control store (Ray's
    # own join would retry for 20 s and then fail with a ConnectionError)
    env = {k: v for k, v in head.env.items() if k != "RAY_AUTH_MODE"}
    began = time.monotonic()
    r = Head(head.gcs, head.client, env).phago(
        "cluster", "status", "--address", head.address("gcs"), timeout=180.0
    )
    assert r.returncode == 1 and time.monotonic() - began < 15.0
    said = r.stderr.split("Error: ", 1)[-1]
    assert "it wants an authentication token: this driver has a token but does not" in said
    assert "set RAY_AUTH_MODE=token" in said and "Traceback (most" not in said, said
    assert "(AuthenticationError: " in said and "ConnectionError" not in said, said


LOST_NODE_DRIVER = """
import json, sys
from distributed_signature import signature_digest
from phago.corpus import grid_positions, load_sample_corpus
from phago.distributed import DistributedColony

docs = load_sample_corpus()
items = [(d.title, d.content, p) for d, p in zip(docs, grid_positions(len(docs)))]
dc = DistributedColony(2, backend="ray", address=sys.argv[1], seed=0, checkpoint_every=5,
                       ray_options={"num_cpus": 1, "scheduling_strategy": "SPREAD"})
dc.ingest_documents(items)
dc.spawn_digesters(2, max_idle=60)
dc.run(8)
import ray
print(json.dumps([ray.get(dc.ray_actor(i).pid.remote()) for i in range(2)]), flush=True)
sys.stdin.readline()  # the test has killed the node one of the shards runs on
results = dc.run(7)
said = [(r.tick, r.recovered.restored_tick) for r in results if r.recovered is not None]
signature = signature_digest(dc)
print(json.dumps({"said": said, "tick": dc.current_tick, "names": dc.ray_actor_names,
                  "signature": signature}), flush=True)
dc.close()
"""


def _nodes(head: Head) -> int:
    """The cluster's live nodes, from `phago cluster status --json`."""
    r = head.phago("cluster", "status", "--json", timeout=120.0)
    assert r.returncode == 0, r.stderr[-3000:]
    return int(json.loads(r.stdout)["nodes"])


def _descends_from(pid: int, ancestor: int) -> bool:
    """Whether process ``pid`` runs under ``ancestor`` (an actor's worker process is a
    child of its node's raylet, a child of that node's `ray start`)."""
    while pid > 1:
        if pid == ancestor:
            return True
        stat = Path(f"/proc/{pid}/stat").read_text()
        pid = int(stat.rsplit(")", 1)[1].split()[1])  # the parent's id
    return False


DOOMED_DRIVER = """
import json, sys
from phago.corpus import grid_positions, load_sample_corpus
from phago.distributed import DistributedColony

docs = load_sample_corpus()
items = [(d.title, d.content, p) for d, p in zip(docs, grid_positions(len(docs)))]
dc = DistributedColony(2, backend="ray", address=sys.argv[1], seed=0, checkpoint_every=5,
                       checkpoint_dir=sys.argv[2], ray_options={"num_cpus": 0.5})
dc.ingest_documents(items)
dc.spawn_digesters(2, max_idle=60)
dc.run(12)
print(json.dumps(dc.ray_actor_names), flush=True)
sys.stdin.readline()  # never: the test kills this driver here
"""

RESUMING_DRIVER = """
import json, sys
from distributed_signature import signature_digest
from phago.distributed import DistributedColony

dc = DistributedColony.from_checkpoint(sys.argv[2], address=sys.argv[1],
                                       ray_options={"num_cpus": 0.5})
start = dc.current_tick
dc.run(15 - start)
print(json.dumps({"start": start, "tick": dc.current_tick, "backend": dc.backend,
                  "signature": signature_digest(dc)}))
dc.close()
"""


def test_a_run_whose_driver_is_lost_goes_on_from_its_checkpoints_on_disk(
    head: Head, tmp_path: Path
) -> None:
    # the driver dies (SIGKILL) after its checkpoint at tick 10 reached the disk; its
    # actors go with it (they share its fate); a new driver, in Python or with `phago run
    # --resume`, goes on from the checkpoint on the same cluster to an uninterrupted run's
    # graph
    ckpt = tmp_path / "ckpt"
    address = head.address("gcs")
    with head.driver(DOOMED_DRIVER, address, str(ckpt)) as doomed:  # killed at the end
        colony = doomed.first[0].split(".shard-")[0]
        assert sorted(p.name for p in ckpt.iterdir()) == ["tick-0000000010"]
    deadline = time.monotonic() + 60.0
    while True:  # the dead driver's actors go
        listed = _status(head, address, actors=0)["shard_actors"]
        if not [r for r in listed if r["colony"] == colony] or time.monotonic() > deadline:
            break
    assert [r for r in listed if r["colony"] == colony] == []
    got = head.run_script(RESUMING_DRIVER, address, str(ckpt))
    assert (got["start"], got["tick"], got["backend"]) == (10, 15, "ray")
    assert got["signature"] == _uninterrupted_signature(15)
    # `phago run --resume` does the same from the command line
    cli = head.phago("run", "--resume", str(ckpt), "--address", address, "--ticks", "5", "--json")
    assert cli.returncode == 0, cli.stderr[-3000:]
    data = json.loads(cli.stdout)
    assert data["backend"] == "ray" and data["tick"] == 15 and data["ticks_run"] == 5


@pytest.fixture(scope="module")
def second_node(head: Head) -> Iterator[subprocess.Popen[bytes]]:
    """A second node joined to ``head`` (`ray start --address`, 2 CPUs), in a process
    group of its own; the lost-node test kills it."""
    ray_cli = str(Path(sys.executable).with_name("ray"))
    node = subprocess.Popen(
        [ray_cli, "start", f"--address=127.0.0.1:{head.gcs}", "--block", "--num-cpus=2"],
        env=head.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120.0
        while _nodes(head) < 2:
            assert node.poll() is None and time.monotonic() < deadline, "the node did not join"
            time.sleep(0.5)
        yield node
    finally:
        if node.poll() is None:
            node.send_signal(signal.SIGTERM)
            try:
                node.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(node.pid, signal.SIGKILL)
                node.wait(timeout=30)


TWO_NODES_DRIVER = """
import json, sys
from distributed_signature import signature_digest
from phago import ColonyConfig
from phago.distributed import DistributedColony
from phago.synthetic import synthetic_corpus, w1_layout

# W3's first 3,000 documents: ingest chunks of megabytes, through the object stores
items = [(t, c, p) for (t, c), p in zip(synthetic_corpus(3000, seed=0), w1_layout(3000))]
dc = DistributedColony(2, backend="ray", address=sys.argv[1], seed=0,
                       config=ColonyConfig.for_large_corpora(),
                       ray_options={"num_cpus": 1, "scheduling_strategy": "SPREAD"})
dc.ingest_documents(items)
dc.spawn_digesters(15)
import ray
def descends_from(pid, ancestor):
    while pid > 1:
        if pid == ancestor:
            return True
        with open(f"/proc/{pid}/stat") as f:
            pid = int(f.read().rsplit(")", 1)[1].split()[1])
    return False
on_node = [descends_from(ray.get(dc.ray_actor(i).pid.remote()), int(sys.argv[2]))
           for i in range(2)]
ticks = dc.run_until_digested(120)
print(json.dumps({"on_node": on_node, "ticks": ticks,
                  "signature": signature_digest(dc)}))
dc.close()
"""


def test_shards_on_two_nodes_build_the_local_graph(
    head: Head, second_node: subprocess.Popen[bytes]
) -> None:
    from phago import ColonyConfig
    from phago.synthetic import synthetic_corpus, w1_layout

    docs = zip(synthetic_corpus(3000, seed=0), w1_layout(3000), strict=True)
    items = [(t, c, p) for (t, c), p in docs]
    with DistributedColony(2, seed=0, config=ColonyConfig.for_large_corpora()) as clean:
        clean.ingest_documents(items)
        clean.spawn_digesters(15)
        ticks = clean.run_until_digested(120)
        expected = signature_digest(clean)
    got = head.run_script(TWO_NODES_DRIVER, head.address("gcs"), str(second_node.pid))
    assert sorted(got["on_node"]) == [False, True]  # one shard on each node
    assert got["ticks"] == ticks and got["signature"] == expected


def test_a_lost_node_is_recovered_with_the_graph_of_an_uninterrupted_run(
    head: Head, second_node: subprocess.Popen[bytes]
) -> None:
    # the shards are spread over both nodes; the second node is killed outright (its
    # raylet and the shard actor on it): the runner notices, places a replacement on the
    # node left (one placed on the dead node before the cluster knows it dead is lost,
    # and replaced again), rolls back and replays; this test comes last
    expected = _uninterrupted_signature(15)
    node = second_node
    with head.driver(LOST_NODE_DRIVER, head.address("gcs")) as driver:
        on_node = [_descends_from(pid, node.pid) for pid in driver.first]
        assert sorted(on_node) == [False, True]  # one shard on each node
        os.killpg(node.pid, signal.SIGKILL)
        node.wait(timeout=30)
        after = driver.go()
        assert after["tick"] == 15
        # the tick that failed (its result says it; the cluster rolled back to the
        # checkpoint at 5 and replayed up to the tick before), or the checkpoint at 10
        # (said by tick 11)
        [(tick, restored)] = after["said"]
        assert tick in (9, 10, 11) and restored == tick - 1
        lost = on_node.index(True)
        assert int(after["names"][lost].rsplit(".", 1)[1]) >= 1  # a new generation
        assert after["signature"] == expected
