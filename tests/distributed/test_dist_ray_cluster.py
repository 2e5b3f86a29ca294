"""Joining a Ray cluster without Ray: the shard actors' names, where a driver's token is,
and what ``init_ray`` makes of Ray's errors (phago.distributed.backends.ray_cluster and
ray.init_ray; tests/ray joins real clusters)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phago import ColonyConfig
from phago.distributed.backends.ray import init_ray, start_ray_shards
from phago.distributed.backends.ray_cluster import (
    auth_token_available,
    new_colony_name,
    parse_shard_actor_name,
    shard_actor_name,
    wants_a_token,
)
from phago.errors import ConfigError, DistributedError

# what a colony name can hold: anything on one line (a new one is host-pid-suffix)
COLONIES = st.text(st.characters(blacklist_characters="\n\r\x85\u2028\u2029"), min_size=1)


@given(COLONIES, st.integers(0, 10_000), st.integers(0, 1_000))
def test_a_name_parses_back_to_its_colony_shard_and_generation(
    colony: str, index: int, generation: int
) -> None:
    name = shard_actor_name(colony, index, generation)
    assert parse_shard_actor_name(name) == (colony, index, generation)


@given(st.integers(0, 50), st.integers(0, 50), st.integers(0, 50), st.integers(0, 50))
def test_names_of_different_shards_or_generations_differ(a: int, b: int, c: int, d: int) -> None:
    same = (a, b) == (c, d)
    assert (shard_actor_name("c", a, b) == shard_actor_name("c", c, d)) == same


@pytest.mark.parametrize(
    "name",
    ["", "shard-1.0", "c.shard-1", "c.shard-.0", "c.shard-1.x", "c.shard--1.0", "c.Shard-1.0"],
)
def test_names_phago_did_not_make_are_not_shard_actors(name: str) -> None:
    assert parse_shard_actor_name(name) is None


def test_negative_indices_make_no_name() -> None:
    with pytest.raises(ValueError, match="not negative"):
        shard_actor_name("c", -1, 0)
    with pytest.raises(ValueError, match="not negative"):
        shard_actor_name("c", 0, -1)


def test_new_colony_names_say_which_process_and_differ() -> None:
    names = {new_colony_name() for _ in range(50)}
    assert len(names) == 50
    for name in names:
        host, pid, suffix = name.rsplit("-", 2)
        assert host and pid == str(os.getpid()) and len(suffix) == 6
        int(suffix, 16)
        assert parse_shard_actor_name(shard_actor_name(name, 2, 1)) == (name, 2, 1)


def test_a_token_is_found_where_ray_looks(tmp_path: Path) -> None:
    assert not auth_token_available({}, home=tmp_path)
    assert not auth_token_available({"RAY_AUTH_TOKEN": "  "}, home=tmp_path)
    assert auth_token_available({"RAY_AUTH_TOKEN": "abc"}, home=tmp_path)
    named = tmp_path / "token"
    assert not auth_token_available({"RAY_AUTH_TOKEN_PATH": str(named)}, home=tmp_path)
    named.write_text("abc\n")
    assert auth_token_available({"RAY_AUTH_TOKEN_PATH": str(named)}, home=tmp_path)
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("")
    assert not auth_token_available({}, home=tmp_path)  # an empty file is no token
    (tmp_path / ".ray" / "auth_token").write_text("abc")
    assert auth_token_available({}, home=tmp_path)


def test_a_refusal_for_the_token_is_told_from_other_failures() -> None:
    try:
        try:
            raise OSError("Unauthenticated: RPC error: InvalidAuthToken")
        except OSError as inner:
            raise ConnectionError("Failed to connect to Ray cluster") from inner
    except ConnectionError as outer:
        assert wants_a_token(outer)
    assert not wants_a_token(ConnectionError("Could not find any running Ray instance"))


class _Init:
    """Stands in for the ``ray`` module's ``init``: fails with ``errors`` in turn, then
    returns; records the calls."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls: list[dict[str, Any]] = []

    def init(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)
        if self.errors:
            raise self.errors.pop(0)


def test_ray_client_failing_on_its_servers_side_is_tried_once_more(
    caplog: pytest.LogCaptureFixture,
) -> None:
    aborted = ConnectionAbortedError("Initialization failure from server")
    ray = _Init(aborted)
    init_ray(ray, "ray://head:10001", address="ray://head:10001")
    assert len(ray.calls) == 2 and "trying once more" in caplog.text
    assert "GRPC_ENABLE_FORK_SUPPORT=false ray start --head" in caplog.text  # (what to do)
    ray = _Init(aborted, ConnectionAbortedError("Initialization failure from server"))
    with pytest.raises(DistributedError, match=r"ray://head:10001.*Initialization failure") as e:
        init_ray(ray, "ray://head:10001", address="ray://head:10001")
    assert len(ray.calls) == 2  # once more, not forever
    assert "runs with GRPC_ENABLE_FORK_SUPPORT=false in its environment" in str(e.value)
    # other failures, or the same one by a cluster's own address, are not retried
    for joining, error in [
        ("ray://head:10001", ConnectionError("ray client connection timeout")),
        ("head:6379", ConnectionAbortedError("Initialization failure from server")),
    ]:
        ray = _Init(error)
        with pytest.raises(DistributedError, match="could not join the Ray cluster"):
            init_ray(ray, joining, address=joining)
        assert len(ray.calls) == 1


def test_ray_client_timing_out_names_a_token_the_driver_does_not_send(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Ray Client says nothing of a token the cluster wanted: the connection times out
    monkeypatch.setenv("RAY_AUTH_TOKEN", "0123abcd")
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    timeout = ConnectionError("ray client connection timeout")
    with pytest.raises(DistributedError, match="set RAY_AUTH_MODE=token here: this driver has"):
        init_ray(_Init(timeout), "ray://head:10001", address="ray://head:10001")
    monkeypatch.setenv("RAY_AUTH_MODE", "token")  # sent: no such hint
    with pytest.raises(DistributedError) as info:
        init_ray(_Init(timeout), "ray://head:10001", address="ray://head:10001")
    assert "RAY_AUTH_MODE" not in str(info.value)


def test_a_local_ray_that_cannot_start_says_so() -> None:
    ray = _Init(RuntimeError("no space left for the object store\nmore"))
    with pytest.raises(DistributedError) as info:
        init_ray(ray, None)
    said = "could not start a local Ray: RuntimeError: no space left for the object store"
    assert str(info.value) == said


@pytest.mark.parametrize("options", [{"name": "mine"}, {"namespace": "x", "num_cpus": 1}])
def test_options_that_would_name_the_actors_are_refused_before_ray_starts(
    options: dict[str, Any],
) -> None:
    with pytest.raises(ConfigError, match="phago names each shard actor"):
        start_ray_shards(2, ColonyConfig(), None, 0, 10, options=options)  # type: ignore[arg-type]
