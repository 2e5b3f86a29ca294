"""What a Ray cluster holds of phago: shard actors named so that any driver can find them.

Every shard actor is a named actor in the :data:`ACTOR_NAMESPACE` namespace, named
``<colony>.shard-<index>.<generation>``: the colony is the name of the driver's
:class:`~phago.distributed.DistributedColony` (its host, process id and a random suffix),
the generation counts the actor's replacements after failures. Named actors
are listed by the cluster's control store itself, so ``phago cluster status`` finds them on
any cluster, where Ray's state API (``ray.util.state``) needs the dashboard, which the
minimal Ray that phago installs does not run.

The names are plain data (:func:`shard_actor_name`, :func:`parse_shard_actor_name`);
:func:`list_shard_actors` asks a connected Ray which actors are alive and what each says of
itself (its tick, process and memory). For joining a cluster with token authentication,
:func:`auth_token_available` says whether this driver has a token where Ray looks, and
:func:`wants_a_token` whether a failed join was refused for one.

Example:
    >>> name = shard_actor_name("laptop-4242-9f1c", 3, 0)
    >>> name
    'laptop-4242-9f1c.shard-3.0'
    >>> parse_shard_actor_name(name)
    ('laptop-4242-9f1c', 3, 0)
    >>> parse_shard_actor_name("somebody-elses-actor") is None
    True
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "ACTOR_NAMESPACE",
    "auth_token_available",
    "list_shard_actors",
    "new_colony_name",
    "parse_shard_actor_name",
    "shard_actor_name",
    "wants_a_token",
]

ACTOR_NAMESPACE = "phago"
"""The Ray namespace of every shard actor."""

_NAME = re.compile(r"^(?P<colony>.+)\.shard-(?P<index>\d+)\.(?P<generation>\d+)$")


def new_colony_name() -> str:
    """A name for a new colony's shard actors: this host, this process and a random
    suffix (six hex digits), so that colonies of different drivers never share one.

    Example:
        >>> name = new_colony_name()
        >>> name.split("-")[-2] == str(os.getpid()) and len(name.split("-")[-1]) == 6
        True
    """
    host = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname().split(".")[0]) or "host"
    return f"{host[:40]}-{os.getpid()}-{secrets.token_hex(3)}"


def shard_actor_name(colony: str, index: int, generation: int) -> str:
    """The Ray actor name of shard ``index`` of ``colony``, its ``generation``-th actor
    (0 for the first; a replacement takes the next, since a dead actor's name can stay
    taken for a moment).

    Example:
        >>> shard_actor_name("c1", 0, 2)
        'c1.shard-0.2'
    """
    if index < 0 or generation < 0:
        raise ValueError("a shard index and a generation are not negative")
    return f"{colony}.shard-{index}.{generation}"


def parse_shard_actor_name(name: str) -> tuple[str, int, int] | None:
    """``(colony, shard index, generation)`` of a shard actor's name; None for a name
    :func:`shard_actor_name` did not make.

    Example:
        >>> parse_shard_actor_name("c1.shard-0.2")
        ('c1', 0, 2)
        >>> parse_shard_actor_name("c1.shard-x.2") is None
        True
    """
    m = _NAME.match(name)
    if m is None:
        return None
    return m["colony"], int(m["index"]), int(m["generation"])


def list_shard_actors(ray: Any, timeout_s: float = 3.0) -> list[dict[str, Any]]:
    """The shard actors alive in the cluster ``ray`` is connected to, sorted by colony,
    shard and generation.

    Each is a dict: ``colony``, ``shard``, ``generation``, ``name``, and what the actor
    answered within ``timeout_s`` (all actors asked at once): ``tick``, ``pid`` and
    ``rss_mib`` (its peak resident memory). An actor busy with a long call, or not
    started yet, answers later than that: its three values are None and ``answered`` is
    False. An actor that died between the listing and the question is left out.

    Example (needs a running Ray):
        >>> import ray  # doctest: +SKIP
        >>> ray.init(address="auto")  # doctest: +SKIP
        >>> [a["shard"] for a in list_shard_actors(ray)]  # doctest: +SKIP
        [0, 1]
    """
    named = ray.util.list_named_actors(all_namespaces=True)
    found: list[tuple[tuple[str, int, int], str]] = []
    for entry in named:
        if not isinstance(entry, dict) or entry.get("namespace") != ACTOR_NAMESPACE:
            continue
        parsed = parse_shard_actor_name(str(entry.get("name", "")))
        if parsed is not None:
            found.append((parsed, entry["name"]))
    found.sort()
    asked: list[tuple[tuple[str, int, int], str, list[Any]]] = []
    for parsed, name in found:
        try:
            actor = ray.get_actor(name, namespace=ACTOR_NAMESPACE)
        except ValueError:  # gone since the listing
            continue
        refs = [actor.ping.remote(), actor.pid.remote(), actor.rss_mib.remote()]
        asked.append((parsed, name, refs))
    every = [r for _, _, refs in asked for r in refs]
    ready: set[Any] = set()
    if every:
        done, _ = ray.wait(every, num_returns=len(every), timeout=timeout_s)
        ready = set(done)
    out: list[dict[str, Any]] = []
    for (colony, index, generation), name, refs in asked:
        row: dict[str, Any] = {
            "colony": colony,
            "shard": index,
            "generation": generation,
            "name": name,
            "answered": False,
            "tick": None,
            "pid": None,
            "rss_mib": None,
        }
        if all(r in ready for r in refs):
            try:
                tick, pid, rss = ray.get(refs)
            except Exception:  # died between the question and the answer
                continue
            row.update(answered=True, tick=int(tick), pid=int(pid), rss_mib=round(float(rss), 1))
        out.append(row)
    return out


def auth_token_available(environ: Mapping[str, str], home: Path | None = None) -> bool:
    """Whether this driver has a Ray authentication token: ``RAY_AUTH_TOKEN``, the file
    ``RAY_AUTH_TOKEN_PATH`` names, or ``~/.ray/auth_token`` (``home``: the home folder,
    the user's by default), where Ray looks for one.

    Example:
        >>> import tempfile
        >>> auth_token_available({"RAY_AUTH_TOKEN": "0123abcd"})
        True
        >>> auth_token_available({}, home=Path(tempfile.mkdtemp()))
        False
    """
    if environ.get("RAY_AUTH_TOKEN", "").strip():
        return True
    named = environ.get("RAY_AUTH_TOKEN_PATH")
    paths = [Path(named)] if named else []
    paths.append((home if home is not None else Path.home()) / ".ray" / "auth_token")
    for path in paths:
        try:
            if path.read_text().strip():
                return True
        except OSError:
            continue
    return False


def wants_a_token(exc: BaseException) -> bool:
    """Whether a failed join (``exc`` and its causes) was refused for a missing or wrong
    authentication token.

    Example:
        >>> wants_a_token(RuntimeError("Unauthenticated: RPC error: InvalidAuthToken"))
        True
        >>> wants_a_token(ConnectionError("no cluster"))
        False
    """
    seen: BaseException | None = exc
    while seen is not None:
        text = f"{seen.__class__.__name__} {seen}"
        if "InvalidAuthToken" in text or "AuthenticationError" in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return False
