"""Export the knowledge graph: networkx, GraphML, GEXF, JSON, CSV edge lists, weighted triples.

Everything goes through :class:`GraphTable`, a flat column view of a graph (one colony's, or
the union of a distributed colony's shards, with the shard of each node). Node ids are
written as decimal strings (GraphML and GEXF have no unsigned 64-bit type); every node keeps
its ``label``, ``node_type``, ``access_count``, ``created_tick``, ``x`` and ``y``, every
edge its ``weight``, ``co_activations``, ``created_tick`` and ``last_activated_tick``.

The triple export follows the reference (REFERENCE.md §3.9): one triple per edge
``(from_label, "related_to", to_label, weight, co_activations)``, sorted by weight
descending (ties keep edge insertion order), with statistics total, mean, median
(``sorted(weights)[len // 2]``), max, min and mean co-activations. ``from`` is the endpoint
created first.

Every format is compressed when the file name ends ``.gz`` (or ``.gzip``; gzip) or ``.bz2``
(bzip2): the compressed file holds exactly the bytes the same export to the name without that
ending holds (so ``t.jsonl.gz`` is gzipped JSON Lines triples).

Outputs: a path to a regular file (new or existing) is written whole or not at all
(:func:`atomic_output`). ``"-"`` writes to standard output, and so does a name of it
(``/dev/stdout``, ``/dev/fd/1``, ``/proc/self/fd/1``; see :func:`writes_standard_output`),
on the descriptor the shell opened (``>>`` appends, ``>`` truncates, whatever it is); an
existing path that is not a regular file (a FIFO, a terminal, ``/dev/null``; see
:func:`is_stream_output`) is opened and written in place; none is compressed by its name
(pipe it through ``gzip``). :func:`export_graph` refuses a name whose ending names another
format (:func:`check_format_name`).

Example:
    >>> from phago import Colony, Digester, Position
    >>> c = Colony(seed=0)
    >>> _ = c.ingest_document("t", "cell membrane protein", Position(0, 0))
    >>> _ = c.spawn(Digester(Position(0, 0)))
    >>> _ = c.run_until_digested(20)
    >>> table = GraphTable.from_colony(c)
    >>> g = to_networkx(table)
    >>> g.number_of_nodes(), g.number_of_edges()
    (3, 3)
    >>> ts, stats = triples(table)
    >>> ts[0].predicate, stats.total
    ('related_to', 3)
"""

from __future__ import annotations

import bz2
import contextlib
import csv
import gzip
import io
import json
import os
import secrets
import sqlite3
import stat
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt

from phago import _xml_export
from phago.colony import Colony
from phago.errors import ConfigError, OutputError, PhagoError, StoreError
from phago.graph import HebbianGraph
from phago.state import ColonyState
from phago.types import NodeType

if TYPE_CHECKING:
    from phago.query.base import GraphSource

__all__ = [
    "FORMATS",
    "STDOUT",
    "GraphTable",
    "TableSource",
    "Triple",
    "TripleStats",
    "atomic_output",
    "check_format_name",
    "check_output_path",
    "export_graph",
    "is_stream_output",
    "to_json_dict",
    "to_networkx",
    "triples",
    "write_csv",
    "write_gexf",
    "write_graphml",
    "write_json",
    "write_triples",
    "writes_standard_output",
]

FORMATS = ("graphml", "gexf", "json", "csv", "triples")
"""Formats :func:`export_graph` writes."""

PathLike = str | os.PathLike[str]
_TYPES = [t.value for t in NodeType]


TableSource: TypeAlias = "GraphTable | HebbianGraph | GraphSource"
"""What the writers take: a :class:`GraphTable`, a graph, or a colony (:meth:`GraphTable.of`)."""


@dataclass
class GraphTable:
    """A graph as flat columns: nodes by index, edges as index pairs in insertion order."""

    ids: npt.NDArray[np.uint64]
    labels: list[str]
    node_types: list[str]
    access: npt.NDArray[np.int64]
    created: npt.NDArray[np.int64]
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    edge_a: npt.NDArray[np.int64]
    edge_b: npt.NDArray[np.int64]
    weight: npt.NDArray[np.float64]
    co_activations: npt.NDArray[np.int64]
    edge_created: npt.NDArray[np.int64]
    edge_last: npt.NDArray[np.int64]
    shard: npt.NDArray[np.int64] | None = None
    tick: int = 0

    @property
    def node_count(self) -> int:
        """Number of nodes."""
        return len(self.labels)

    @property
    def edge_count(self) -> int:
        """Number of edges."""
        return len(self.weight)

    def degrees(self) -> npt.NDArray[np.int64]:
        """Degree of every node.

        Example:
            >>> from phago.graph import HebbianGraph
            >>> g = HebbianGraph(); idx = g.present(["a", "b", "c"]); _ = g.wire_clique(idx, 0)
            >>> GraphTable.from_graph(g).degrees().tolist()
            [2, 2, 2]
        """
        n = self.node_count
        if self.edge_count == 0:
            return np.zeros(n, dtype=np.int64)
        out: npt.NDArray[np.int64] = np.bincount(self.edge_a, minlength=n) + np.bincount(
            self.edge_b, minlength=n
        )
        return out

    @classmethod
    def from_graph(cls, g: HebbianGraph, *, shard: int | None = None, tick: int = 0) -> GraphTable:
        """The columns of a :class:`~phago.graph.HebbianGraph`."""
        n = g.node_count
        a, b, w, co, ct, lt = g.edge_arrays()
        pos = g.positions()
        codes = g.type_codes()
        return cls(
            ids=g._ids_arr[:n].astype(np.uint64).copy(),
            labels=g.labels(),
            node_types=[_TYPES[int(c)] for c in codes],
            access=g.access_counts().astype(np.int64).copy(),
            created=g.created_ticks().astype(np.int64).copy(),
            x=pos[:, 0].astype(np.float64).copy(),
            y=pos[:, 1].astype(np.float64).copy(),
            edge_a=a.astype(np.int64),
            edge_b=b.astype(np.int64),
            weight=w,
            co_activations=co,
            edge_created=ct,
            edge_last=lt,
            shard=None if shard is None else np.full(n, int(shard), dtype=np.int64),
            tick=int(tick),
        )

    @classmethod
    def from_state(cls, state: ColonyState, *, shard: int | None = None) -> GraphTable:
        """The columns of a saved colony state's graph (no colony is rebuilt).

        Example:
            >>> from phago import Colony
            >>> from phago.state import capture
            >>> GraphTable.from_state(capture(Colony())).node_count
            0
        """
        gs = state.graph
        n = gs.node_count
        return cls(
            ids=gs.ids.astype(np.uint64),
            labels=list(gs.labels),
            node_types=[gs.node_types[int(c)] for c in gs.types.tolist()],
            access=gs.access.astype(np.int64),
            created=gs.created.astype(np.int64),
            x=gs.pos[:, 0].astype(np.float64),
            y=gs.pos[:, 1].astype(np.float64),
            edge_a=gs.edge_a.astype(np.int64),
            edge_b=gs.edge_b.astype(np.int64),
            weight=gs.weight.astype(np.float64),
            co_activations=gs.co_activations.astype(np.int64),
            edge_created=gs.edge_created.astype(np.int64),
            edge_last=gs.edge_last.astype(np.int64),
            shard=None if shard is None else np.full(n, int(shard), dtype=np.int64),
            tick=state.tick,
        )

    @classmethod
    def from_store(cls, path: PathLike) -> GraphTable:
        """The graph saved at ``path``: a colony store file, or a distributed store folder
        (the global graph of its shards, each node with its owner shard).

        Raises:
            StoreError: the store cannot be read.

        Example:
            >>> import tempfile, pathlib
            >>> from phago import Colony
            >>> from phago.store import save
            >>> p = save(Colony(), pathlib.Path(tempfile.mkdtemp()) / "c.db")
            >>> GraphTable.from_store(p).edge_count
            0
        """
        from phago import store

        if store.is_distributed_store(path):
            return _distributed_table(path)
        return cls.from_state(store.load_state(path))

    @classmethod
    def from_colony(cls, colony: Colony) -> GraphTable:
        """The columns of a colony's graph."""
        return cls.from_graph(colony.graph, tick=colony.current_tick)

    @classmethod
    def of(cls, source: object) -> GraphTable:
        """``source`` as a table: a :class:`GraphTable` as it is, a
        :class:`~phago.graph.HebbianGraph`'s columns, or the graph of a colony (a
        :class:`~phago.colony.Colony`, or a distributed colony's merged graph with each
        node's owner shard, as :meth:`from_store` gives them for its saved store).

        Raises:
            ConfigError: anything else (a store's path: :meth:`from_store` reads one).

        Example:
            >>> from phago.graph import HebbianGraph
            >>> g = HebbianGraph(); _ = g.wire_clique(g.present(["a", "b"]), 0)
            >>> GraphTable.of(g).edge_count, GraphTable.of(GraphTable.of(g)).edge_count
            (1, 1)
        """
        if isinstance(source, GraphTable):
            return source
        if isinstance(source, HebbianGraph):
            return cls.from_graph(source)
        graph = getattr(source, "graph", None)
        if isinstance(graph, HebbianGraph):
            table = cls.from_graph(graph, tick=int(getattr(source, "current_tick", 0)))
            dist = sys.modules.get("phago.distributed.colony")  # (loaded if it is one)
            if dist is not None and isinstance(source, dist.DistributedColony):
                table.shard = np.asarray(source.ring.get_shards(table.ids), dtype=np.int64)
            return table
        store = isinstance(source, str | os.PathLike)
        hint = " (a store: GraphTable.from_store reads it)" if store else ""
        raise ConfigError(
            f"expected a GraphTable, a HebbianGraph or a colony, got {type(source).__name__}{hint}"
        )

    @classmethod
    def merge(cls, tables: Sequence[GraphTable]) -> GraphTable:
        """The union of several graphs (a distributed colony's shards).

        A node (by id) takes its attributes from the first table that has it, except the
        access count, which is the largest seen; an edge (by its endpoint ids) is taken from
        the first table that stores it.

        Example:
            >>> from phago.graph import HebbianGraph
            >>> g1 = HebbianGraph(); _ = g1.wire_clique(g1.present(["a", "b"]), 0)
            >>> g2 = HebbianGraph(); _ = g2.wire_clique(g2.present(["b", "c"]), 0)
            >>> m = GraphTable.merge([GraphTable.from_graph(g1, shard=0),
            ...                       GraphTable.from_graph(g2, shard=1)])
            >>> m.labels, m.edge_count, m.shard.tolist()
            (['a', 'b', 'c'], 2, [0, 0, 1])
        """
        index: dict[int, int] = {}
        ids: list[int] = []
        labels: list[str] = []
        types: list[str] = []
        access: list[int] = []
        created: list[int] = []
        xs: list[float] = []
        ys: list[float] = []
        shards: list[int] = []
        edges: dict[tuple[int, int], tuple[int, int, float, int, int, int]] = {}
        tick = 0
        for t_i, t in enumerate(tables):
            tick = max(tick, t.tick)
            local: list[int] = []
            for i, nid in enumerate(t.ids.tolist()):
                j = index.get(nid)
                if j is None:
                    j = index[nid] = len(ids)
                    ids.append(nid)
                    labels.append(t.labels[i])
                    types.append(t.node_types[i])
                    access.append(int(t.access[i]))
                    created.append(int(t.created[i]))
                    xs.append(float(t.x[i]))
                    ys.append(float(t.y[i]))
                    shards.append(int(t.shard[i]) if t.shard is not None else t_i)
                else:
                    access[j] = max(access[j], int(t.access[i]))
                local.append(j)
            for k in range(t.edge_count):
                a, b = local[int(t.edge_a[k])], local[int(t.edge_b[k])]
                key = (min(a, b), max(a, b))
                if key not in edges:
                    edges[key] = (
                        key[0],
                        key[1],
                        float(t.weight[k]),
                        int(t.co_activations[k]),
                        int(t.edge_created[k]),
                        int(t.edge_last[k]),
                    )
        rows = list(edges.values())
        col: list[tuple[Any, ...]] = list(zip(*rows, strict=True)) if rows else [()] * 6
        return cls(
            ids=np.array(ids, dtype=np.uint64),
            labels=labels,
            node_types=types,
            access=np.array(access, dtype=np.int64),
            created=np.array(created, dtype=np.int64),
            x=np.array(xs, dtype=np.float64),
            y=np.array(ys, dtype=np.float64),
            edge_a=np.array(col[0], dtype=np.int64),
            edge_b=np.array(col[1], dtype=np.int64),
            weight=np.array(col[2], dtype=np.float64),
            co_activations=np.array(col[3], dtype=np.int64),
            edge_created=np.array(col[4], dtype=np.int64),
            edge_last=np.array(col[5], dtype=np.int64),
            shard=np.array(shards, dtype=np.int64),
            tick=tick,
        )

    def stats(self) -> dict[str, Any]:
        """Counts: nodes, edges, tick, and shards when known."""
        out: dict[str, Any] = {
            "tick": self.tick,
            "nodes": self.node_count,
            "edges": self.edge_count,
        }
        if self.shard is not None:
            out["shards"] = len(set(self.shard.tolist()))
        return out


def _distributed_table(path: PathLike) -> GraphTable:
    from phago.errors import StoreError
    from phago.store import merged_graph, read_shard_states

    manifest, states, _ = read_shard_states(path)
    try:
        g, ring = merged_graph(manifest, states)
    except StoreError as exc:
        raise StoreError(f"cannot load {path}: {exc}") from exc
    table = GraphTable.from_graph(g, tick=int(manifest["tick"]))
    table.shard = ring.get_shards(table.ids).astype(np.int64)
    return table


# ---------------------------------------------------------------------------- output files

_SQLITE_HEADER = b"SQLite format 3\x00"


def _looks_like_store_file(p: Path) -> bool:
    """True if ``p`` is a phago store file: one this phago reads, or an SQLite database
    with phago's schema table (a newer or damaged store), or one whose tables cannot be
    read at all (it might be a damaged store). Only a regular file is read: a FIFO, a
    terminal or a pipe is never a store, and reading one would wait for its writer."""
    from phago import store

    try:
        if not stat.S_ISREG(os.stat(p).st_mode):
            return False
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except (OSError, ValueError):
        return False  # not there, or not a readable file: nothing to keep
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # (replaced since it was looked at)
            return False
        if os.read(fd, len(_SQLITE_HEADER)) != _SQLITE_HEADER:
            return False
    except OSError:
        return False
    finally:
        os.close(fd)
    if store.is_store(p):
        return True
    try:
        con = sqlite3.connect(p.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            row = con.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'phago_schema'"
            ).fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return True
    return row is not None


STDOUT = "-"
"""The output name that means standard output (``--out -``; a file named ``-`` is written as
``./-`` in a folder's path, e.g. ``$PWD/-``)."""


def _is_stdout(path: PathLike) -> bool:
    return os.fspath(path) == STDOUT


_STDOUT_NAMES = frozenset({"/dev/stdout", "/dev/fd/1", "/proc/self/fd/1", "/proc/thread-self/fd/1"})
"""Names of this process's descriptor 1, whatever file it is (also ``/proc/<pid>/fd/1``)."""


def _names_descriptor_1(path: PathLike) -> bool:
    """True if ``path`` is a name of descriptor 1 (:data:`_STDOUT_NAMES`), or a symbolic link
    (through links) to one: opening such a name opens the file again (which ``"w"``
    truncates, even behind ``>>``), and resolving it names the file behind the descriptor."""
    try:
        name = os.path.abspath(os.fspath(path))
    except (TypeError, ValueError):
        return False
    own = f"/proc/{os.getpid()}/fd/1"
    for _ in range(40):  # (a loop of links ends somewhere)
        if name in _STDOUT_NAMES or name == own:
            return True
        try:
            link = os.readlink(name)
        except (OSError, ValueError):
            return False  # not a link (or not there): no name of standard output
        name = os.path.abspath(os.path.join(os.path.dirname(name), link))
    return False


def writes_standard_output(path: PathLike) -> bool:
    """True if writing ``path`` writes this process's standard output as ``"-"`` does:
    ``"-"`` itself, or a name of descriptor 1 (``/dev/stdout``, ``/dev/fd/1``,
    ``/proc/self/fd/1``, ``/proc/<this pid>/fd/1``, or a symbolic link to one of them).

    Such a name is written through the descriptor, never opened again nor replaced: when
    standard output is a regular file, ``>>`` appends to it and ``>`` truncates it, as the
    shell set it up (a reopen by name would truncate it, a replace would write another file).
    A path that merely is the same file (``--out log.txt >> log.txt``) is a file's path.

    Example:
        >>> [writes_standard_output(p) for p in ("-", "/dev/stdout", "/dev/fd/1", "out.csv")]
        [True, True, True, False]
    """
    return _is_stdout(path) or _names_descriptor_1(path)


def is_stream_output(path: PathLike) -> bool:
    """True if ``path`` is written as a stream, in place: standard output (``"-"``,
    ``/dev/stdout``; see :func:`writes_standard_output`), or an existing path that is neither
    a regular file nor a folder (a FIFO, a terminal, a character device such as
    ``/dev/null``).

    Such an output is opened and written directly: not through a temporary file and a
    rename (which cannot replace a pipe or a device), so not whole-or-nothing, and never
    compressed by its name. Any other path is a file, written by :func:`atomic_output`.

    Example:
        >>> import os, tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> os.mkfifo(d / "pipe")
        >>> [is_stream_output(p) for p in ("-", d / "pipe", os.devnull, d / "new.csv", d)]
        [True, True, True, False, False]
    """
    if writes_standard_output(path):
        return True
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False  # (not there yet: a new file)
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


_NAMED_FORMATS: dict[str, tuple[tuple[str, ...], str]] = {
    ".graphml": (("graphml",), "GraphML"),
    ".gexf": (("gexf",), "GEXF"),
    ".xml": (("graphml", "gexf"), "XML (GraphML or GEXF)"),
    ".json": (("json", "triples"), "JSON"),
    ".jsonl": (("triples",), "JSON Lines triples"),
    ".csv": (("csv",), "a CSV edge list"),
    ".html": ((), "an HTML page (phago viz writes those)"),
    ".htm": ((), "an HTML page (phago viz writes those)"),
    ".png": ((), "a PNG picture (phago viz writes those)"),
    ".svg": ((), "an SVG picture"),
}
"""File name endings (any case, before a compression ending) that name a content, the
export formats that write it, and what it is in words. Other endings name nothing."""


def check_format_name(fmt: str, out: PathLike) -> None:
    """Refuse an output name whose ending (ignoring ``.gz``, ``.gzip`` or ``.bz2``) names a
    content other than format ``fmt`` writes, such as ``csv`` into ``x.jsonl``. Endings that
    name no known content (``.txt``, ``.out``, none) and ``"-"`` are accepted.

    Raises:
        ConfigError: the name contradicts the format (the message says both).

    Example:
        >>> check_format_name("csv", "edges.csv.gz"), check_format_name("csv", "edges.txt")
        (None, None)
        >>> try:
        ...     check_format_name("csv", "x.jsonl.gz")
        ... except ConfigError as exc:
        ...     for part in str(exc).split(": "):
        ...         print(part)
        x.jsonl.gz is named for JSON Lines triples, not format csv
        choose format triples, or name the file for csv (e.g. x.csv.gz)
    """
    if _is_stdout(out):
        return
    p = Path(out)
    suffix = _plain_name(p).suffix.lower()
    named = _NAMED_FORMATS.get(suffix)
    if named is None or fmt in named[0]:
        return
    formats, what = named
    packed = p.suffix if _compression(p) else ""
    example = _plain_name(p).with_suffix(_FORMAT_SUFFIX.get(fmt, f".{fmt}")).name + packed
    choose = f"choose format {' or '.join(formats)}, or " if formats else ""
    raise ConfigError(
        f"{p.name} is named for {what}, not format {fmt}: {choose}"
        f"name the file for {fmt} (e.g. {example})"
    )


_FORMAT_SUFFIX = {"triples": ".jsonl"}
"""The ending of a file of each format, where it is not ``.<format>``."""


def check_output_path(out: PathLike, *, source: PathLike | None = None) -> Path:
    """Refuse an output path that would overwrite a phago store.

    Refused are: ``source`` itself (the store being exported; also through a symbolic or
    hard link), any existing phago store file, a distributed store folder, and any path
    inside one.

    Args:
        out: the file about to be written.
        source: the store the output is made from, if any.

    Returns:
        ``out`` as a :class:`~pathlib.Path`.

    Raises:
        StoreError: ``out`` is one of the above (the message says which); nothing was
            written.

    Example:
        >>> import tempfile, pathlib
        >>> from phago import Colony
        >>> from phago.store import save
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> db = save(Colony(), d / "c.db")
        >>> check_output_path(d / "g.json", source=db).name
        'g.json'
        >>> try:
        ...     check_output_path(db, source=db)
        ... except StoreError as exc:
        ...     print("refused:", "it is the store being read" in str(exc))
        refused: True
    """
    from phago import store

    p = Path(out)
    if source is not None:
        try:
            same = os.path.samefile(p, source)
        except OSError:
            same = False  # one of them does not exist
        if same:
            raise StoreError(
                f"refusing to write {p}: it is the store being read ({source}); "
                "choose another output file"
            )
    if _looks_like_store_file(p):
        raise StoreError(
            f"refusing to write {p}: it is a phago store, which writing would destroy; "
            "choose another output file"
        )
    real = Path(os.path.realpath(p))
    for folder in (real, *real.parents):
        if store.is_distributed_store(folder):
            where = "it is" if folder == real else "it is inside"
            raise StoreError(
                f"refusing to write {p}: {where} the distributed phago store {folder}; "
                "choose another output file"
            )
    return p


def _fsync(path: Path, *, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        if directory:
            return  # a folder that cannot be opened: the rename is still atomic
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise  # (some file systems cannot sync a folder)
    finally:
        os.close(fd)


_STALE_AFTER_S = 60.0
"""A temporary file of a writer that is gone is removed once it is this old (seconds)."""

_UNNAMED_STALE_AFTER_S = 86_400.0
"""A temporary file named by a phago before the forty-first session (no process id in its
name) is removed once it is this old (seconds): no export takes a day."""


def _remove_stale_temporaries(target: Path) -> list[Path]:
    """Remove the temporary files of earlier writes of ``target`` whose writer died before
    renaming them (a ``kill -9``, the machine's memory running out): those named by
    :func:`_new_temporary` for a process that no longer runs on this machine and left
    untouched for a minute, and those an earlier phago named (without the process) left
    untouched for a day. Returns the files removed.

    A process id names a process of this machine: in a folder that several machines write
    (a network share), a writer elsewhere whose file went a minute without a write could
    lose it, and its export would then fail (and could be run again).

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> left = d / ".g.json.999999999-0a1b2c3d.tmp.json"  # a process that cannot exist
        >>> _ = left.write_text("{"); os.utime(left, (0, 0))
        >>> [p.name for p in _remove_stale_temporaries(d / "g.json")], left.exists()
        (['.g.json.999999999-0a1b2c3d.tmp.json'], False)
    """
    removed: list[Path] = []
    prefix, suffix = f".{target.name}.", f".tmp{target.suffix}"
    try:
        names = os.listdir(target.parent)
    except OSError:
        return removed
    for name in names:
        if not (name.startswith(prefix) and name.endswith(suffix)):
            continue
        middle = name[len(prefix) : -len(suffix)]
        pid, dash, rest = middle.partition("-")
        if dash and pid.isdigit() and len(rest) == 8:
            if _process_runs(int(pid)):
                continue
            after = _STALE_AFTER_S
        elif len(middle) == 8 and all(c in "0123456789abcdef" for c in middle):
            after = _UNNAMED_STALE_AFTER_S
        else:
            continue
        path = target.parent / name
        try:
            if time.time() - os.lstat(path).st_mtime < after:
                continue
            path.unlink()
        except OSError:
            continue
        removed.append(path)
    return removed


def _process_runs(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (one we may not signal runs too)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def _new_temporary(target: Path) -> Path:
    """A new empty file next to ``target``, hidden, ending like ``target`` (so a writer that
    picks compression by the name's end, as every writer here does for ``.gz``, still
    does), with ``target``'s permissions when it exists (else the usual ones for a
    new file). Its name holds this process's id, so that a later write of ``target``
    removes it if this process dies before renaming it
    (:func:`_remove_stale_temporaries`)."""
    _remove_stale_temporaries(target)
    try:
        mode: int | None = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mode = None
    while True:
        tmp = target.with_name(
            f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp{target.suffix}"
        )
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        if mode is not None:
            try:
                os.chmod(tmp, mode)
            except OSError:
                tmp.unlink(missing_ok=True)
                raise
        return tmp


@contextlib.contextmanager
def atomic_output(path: PathLike) -> Iterator[Path]:
    """Write a file whole or not at all: the body writes the temporary file this yields
    (in the same folder); once it returns, the file is flushed to disk and renamed onto
    ``path``, so ``path`` holds either what it held before or the complete new file, also
    on a full disk or a crash. When the body fails the temporary is removed and ``path``
    is left as it was. A ``path`` that is a symbolic link keeps it: the file it points to
    is replaced. A ``path`` that is a stream (a FIFO, a terminal, a device; see
    :func:`is_stream_output`) cannot be replaced: this yields ``path`` itself, to be opened
    and written in place (a FIFO's open waits for its reader, as a shell's ``>`` does).

    Args:
        path: the file to write.

    Yields:
        The temporary file to write.

    Raises:
        ConfigError: ``path`` is ``"-"`` or another name of standard output (see
            :func:`writes_standard_output`: it is no file to replace; the writers take it).
        StoreError: ``path`` is a phago store (see :func:`check_output_path`).
        OSError: the file cannot be written.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> with atomic_output(out) as tmp:
        ...     _ = tmp.write_text("whole")
        >>> out.read_text(), [p.name for p in out.parent.iterdir()]
        ('whole', ['a.txt'])
    """
    if writes_standard_output(path):
        raise ConfigError(
            f"atomic_output writes a file, and {os.fspath(path)!r} is standard output: "
            "give a file's path"
        )
    check_output_path(path)
    if is_stream_output(path):
        yield Path(path)
        return
    target = Path(os.path.realpath(path))
    tmp = _new_temporary(target)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    _fsync(target.parent, directory=True)


# ---------------------------------------------------------------------------- networkx


def to_networkx(table: GraphTable, *, extra: dict[str, Sequence[Any]] | None = None) -> Any:
    """An undirected :class:`networkx.Graph` with string node ids and the documented attributes.

    Args:
        table: the graph.
        extra: more node attributes, one value per node (e.g. ``{"community": [...]}``).
    """
    import networkx as nx

    g = nx.Graph()
    has_shard = table.shard is not None
    for i in range(table.node_count):
        attrs: dict[str, Any] = {
            "label": table.labels[i],
            "node_type": table.node_types[i],
            "access_count": int(table.access[i]),
            "created_tick": int(table.created[i]),
            "x": float(table.x[i]),
            "y": float(table.y[i]),
        }
        if has_shard and table.shard is not None:
            attrs["shard"] = int(table.shard[i])
        for k, vals in (extra or {}).items():
            v = vals[i]
            attrs[k] = v.item() if isinstance(v, np.generic) else v
        g.add_node(str(int(table.ids[i])), **attrs)
    ids = [str(int(v)) for v in table.ids.tolist()]
    g.add_edges_from(
        (
            ids[int(table.edge_a[k])],
            ids[int(table.edge_b[k])],
            {
                "weight": float(table.weight[k]),
                "co_activations": int(table.co_activations[k]),
                "created_tick": int(table.edge_created[k]),
                "last_activated_tick": int(table.edge_last[k]),
            },
        )
        for k in range(table.edge_count)
    )
    return g


_COMPRESSED_SUFFIXES = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bzip2"}
"""Name endings (any case) that make every writer compress what it writes: the file holds,
compressed, exactly what the same export to the name without the ending holds."""


def _compression(path: PathLike) -> str | None:
    """The compression a file name asks for: ``"gzip"`` for a name ending ``.gz`` or
    ``.gzip``, ``"bzip2"`` for ``.bz2`` (in any case), else ``None``.

    Example:
        >>> _compression("g.jsonl.gz"), _compression("g.CSV.BZ2"), _compression("g.json")
        ('gzip', 'bzip2', None)
    """
    return _COMPRESSED_SUFFIXES.get(Path(path).suffix.lower())


def _plain_name(path: Path) -> Path:
    """``path`` without its compression ending (``t.jsonl.gz`` -> ``t.jsonl``)."""
    return path.with_suffix("") if _compression(path) else path


class _TextSink(Protocol):
    """Where a writer writes its text: a file, or standard output."""

    def write(self, text: str, /) -> int: ...


class _Utf8Sink:
    """Text written to a binary stream as UTF-8, newlines as written, nothing held back."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw

    def write(self, text: str, /) -> int:
        self._raw.write(text.encode("utf-8"))
        return len(text)


def _stdout_on_descriptor_1() -> bool:
    """True if ``sys.stdout`` writes descriptor 1 (it is not a capture, nor a notebook's)."""
    try:
        return sys.stdout is not None and sys.stdout.fileno() == 1
    except (AttributeError, OSError, ValueError):
        return False


@contextlib.contextmanager
def _stdout_bytes(path: PathLike = STDOUT) -> Iterator[IO[bytes]]:
    """Standard output's bytes (what was printed on it before goes first), flushed at the end.
    For ``"-"`` that is ``sys.stdout``'s; for a name of descriptor 1 (``/dev/stdout``) it is
    descriptor 1's, written in place: ``sys.stdout``'s when it writes there, else a copy of
    the descriptor (never the file opened again by its name).

    Raises:
        OutputError: standard output takes no bytes here (it was replaced by a text stream).
        OSError: descriptor 1 is closed.
    """
    raw: IO[bytes] | None = getattr(sys.stdout, "buffer", None)
    if _is_stdout(path) or (raw is not None and _stdout_on_descriptor_1()):
        sys.stdout.flush()
        if raw is None:
            raise OutputError("cannot write bytes to standard output here: give a file to write")
        yield raw
        raw.flush()
        return
    with contextlib.suppress(AttributeError, OSError, ValueError):
        sys.stdout.flush()  # (what was printed goes first, where it goes)
    with open(os.dup(1), "wb") as fd1:
        yield fd1


@contextlib.contextmanager
def _stdout_text(path: PathLike = STDOUT) -> Iterator[_TextSink]:
    """Standard output for text (``path`` as for :func:`_stdout_bytes`): UTF-8 bytes as a
    file would hold them (or, where ``"-"``'s standard output is a text stream with no bytes
    under it, that stream)."""
    if _is_stdout(path) and getattr(sys.stdout, "buffer", None) is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    with _stdout_bytes(path) as raw:
        yield _Utf8Sink(raw)


@contextlib.contextmanager
def _text_output(p: Path) -> Iterator[_TextSink]:
    """Where a writer writes the text of ``p``: standard output for ``"-"`` and its other
    names (see :func:`writes_standard_output`); a stream (see :func:`is_stream_output`)
    opened in place, uncompressed; else the temporary file of :func:`atomic_output`,
    compressed as the name asks."""
    if writes_standard_output(p):
        with _stdout_text(p) as out:
            yield out
        return
    kind = None if is_stream_output(p) else _compression(p)
    with atomic_output(p) as tmp, _open_text(tmp, kind) as fh:
        yield fh


@contextlib.contextmanager
def _open_text(path: Path, kind: str | None) -> Iterator[IO[str]]:
    """``path`` opened to write UTF-8 text (newlines as written) through a large buffer;
    compressed as ``kind`` says (:func:`_compression` of the name the caller was given, not
    of ``path``, the temporary it is written under: behind a symbolic link the two can end
    differently). A gzip member carries no file name and a zero time stamp (as ``gzip -n``
    writes it), so the same graph gives the same bytes."""
    if kind is None:
        with open(path, "w", encoding="utf-8", newline="", buffering=_BUFFER) as fh:
            yield fh
        return
    with open(path, "wb", buffering=_BUFFER) as raw:
        packed: gzip.GzipFile | bz2.BZ2File = (
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)
            if kind == "gzip"
            else bz2.BZ2File(raw, "wb")
        )
        with packed, io.TextIOWrapper(packed, encoding="utf-8", newline="") as fh:
            yield fh


_BUFFER = 1 << 20


def write_graphml(table: GraphTable, path: PathLike) -> Path:
    """Write GraphML (readable by Gephi and :func:`networkx.read_graphml`).

    The file is streamed from the table's columns, a few thousand elements at a time;
    read back with :func:`networkx.read_graphml` it is the graph :func:`to_networkx`
    builds (the same document :func:`networkx.write_graphml` writes for it). A name
    ending ``.gz`` or ``.bz2`` gives a compressed file.

    Example:
        >>> import tempfile, pathlib, networkx as nx
        >>> from phago.graph import HebbianGraph
        >>> g = HebbianGraph(); _ = g.wire_clique(g.present(["a", "b", "c"]), 0)
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "g.graphml"
        >>> p = write_graphml(GraphTable.from_graph(g), out)
        >>> nx.read_graphml(p).number_of_edges()
        3
    """
    p = Path(path)
    with _text_output(p) as fh:
        for chunk in _xml_export.graphml_chunks(table):
            fh.write(chunk)
    return p


def write_gexf(table: GraphTable, path: PathLike) -> Path:
    """Write GEXF 1.2 (Gephi's format; node labels are the concept labels).

    The file is streamed from the table's columns, a few thousand elements at a time;
    read back with :func:`networkx.read_gexf` it is the graph that
    :func:`networkx.write_gexf` writes for :func:`to_networkx`'s graph reads back as.
    A name ending ``.gz`` or ``.bz2`` gives a compressed file.

    Example:
        >>> import tempfile, pathlib, networkx as nx
        >>> from phago.graph import HebbianGraph
        >>> g = HebbianGraph(); _ = g.wire_clique(g.present(["a", "b"]), 0)
        >>> p = write_gexf(GraphTable.from_graph(g), pathlib.Path(tempfile.mkdtemp()) / "g.gexf")
        >>> sorted(d["label"] for _, d in nx.read_gexf(p).nodes(data=True))
        ['a', 'b']
    """
    from phago import __version__

    p = Path(path)
    chunks = _xml_export.gexf_chunks(
        table, date=time.strftime("%Y-%m-%d"), creator=f"phago {__version__}"
    )
    with _text_output(p) as fh:
        for chunk in chunks:
            fh.write(chunk)
    return p


def to_json_dict(table: GraphTable) -> dict[str, Any]:
    """The graph as a JSON-able dict: ``{"format", "stats", "nodes", "edges"}``.

    Example:
        >>> from phago.graph import HebbianGraph
        >>> g = HebbianGraph(); _ = g.wire_clique(g.present(["a", "b"]), 0)
        >>> d = to_json_dict(GraphTable.from_graph(g))
        >>> d["edges"][0]["source_label"], d["edges"][0]["weight"]
        ('a', 0.1)
    """
    ids = [str(int(v)) for v in table.ids.tolist()]
    nodes = []
    for i in range(table.node_count):
        node: dict[str, Any] = {
            "id": ids[i],
            "label": table.labels[i],
            "node_type": table.node_types[i],
            "access_count": int(table.access[i]),
            "created_tick": int(table.created[i]),
            "x": float(table.x[i]),
            "y": float(table.y[i]),
        }
        if table.shard is not None:
            node["shard"] = int(table.shard[i])
        nodes.append(node)
    edges = [
        {
            "source": ids[int(table.edge_a[k])],
            "target": ids[int(table.edge_b[k])],
            "source_label": table.labels[int(table.edge_a[k])],
            "target_label": table.labels[int(table.edge_b[k])],
            "weight": float(table.weight[k]),
            "co_activations": int(table.co_activations[k]),
            "created_tick": int(table.edge_created[k]),
            "last_activated_tick": int(table.edge_last[k]),
        }
        for k in range(table.edge_count)
    ]
    return {
        "format": "phago-graph",
        "version": 1,
        "stats": table.stats(),
        "nodes": nodes,
        "edges": edges,
    }


def write_json(table: GraphTable, path: PathLike) -> Path:
    """Write :func:`to_json_dict` as JSON (compressed for a name ending ``.gz`` or ``.bz2``).

    Example:
        >>> import tempfile, pathlib
        >>> from phago.graph import HebbianGraph
        >>> g = HebbianGraph(); _ = g.present(["a"])
        >>> p = write_json(GraphTable.from_graph(g), pathlib.Path(tempfile.mkdtemp()) / "g.json")
        >>> json.loads(p.read_text())["nodes"][0]["label"]
        'a'
    """
    p = Path(path)
    data = to_json_dict(table)
    text = json.dumps(data, ensure_ascii=False)  # (the C encoder; json.dump writes in Python)
    with _text_output(p) as fh:
        fh.write(text)
    return p


_CSV_HEADER = (
    "source",
    "target",
    "source_label",
    "target_label",
    "weight",
    "co_activations",
    "created_tick",
    "last_activated_tick",
)


def write_csv(table: GraphTable, path: PathLike) -> Path:
    """Write the edge list as one CSV file (header row, one edge per row, insertion order;
    compressed for a name ending ``.gz`` or ``.bz2``).

    Example:
        >>> import tempfile, pathlib
        >>> from phago.graph import HebbianGraph
        >>> g = HebbianGraph(); _ = g.wire_clique(g.present(["a", "b"]), 0)
        >>> p = write_csv(GraphTable.from_graph(g), pathlib.Path(tempfile.mkdtemp()) / "g.csv")
        >>> p.read_text().splitlines()[0]
        'source,target,source_label,target_label,weight,co_activations,created_tick,last_activated_tick'
    """
    p = Path(path)
    ids = [str(int(v)) for v in table.ids.tolist()]
    with _text_output(p) as fh:
        w = csv.writer(fh)
        w.writerow(_CSV_HEADER)
        for k in range(table.edge_count):
            a, b = int(table.edge_a[k]), int(table.edge_b[k])
            w.writerow(
                (
                    ids[a],
                    ids[b],
                    table.labels[a],
                    table.labels[b],
                    repr(float(table.weight[k])),
                    int(table.co_activations[k]),
                    int(table.edge_created[k]),
                    int(table.edge_last[k]),
                )
            )
    return p


# ---------------------------------------------------------------------------- triples


@dataclass(frozen=True, slots=True)
class Triple:
    """One weighted triple ``(subject, predicate, object)`` with its evidence."""

    subject: str
    predicate: str
    object: str
    weight: float
    co_activations: int


@dataclass(frozen=True, slots=True)
class TripleStats:
    """Statistics of a triple export (REFERENCE.md §3.9)."""

    total: int
    mean_weight: float
    median_weight: float
    max_weight: float
    min_weight: float
    mean_co_activations: float


def triples(table: GraphTable) -> tuple[list[Triple], TripleStats]:
    """One ``related_to`` triple per edge, strongest first, and their statistics.

    Example:
        >>> from phago.graph import HebbianGraph
        >>> g = HebbianGraph()
        >>> _ = g.wire_clique(g.present(["a", "b", "c"]), 0)
        >>> _ = g.wire_clique(g.present(["b", "c"]), 1)
        >>> ts, st = triples(GraphTable.from_graph(g))
        >>> (ts[0].subject, ts[0].object, round(ts[0].weight, 2)), st.median_weight
        (('b', 'c', 0.2), 0.1)
    """
    m = table.edge_count
    if m == 0:
        return [], TripleStats(0, 0.0, 0.0, 0.0, 0.0, 0.0)
    order = np.argsort(-table.weight, kind="stable")
    out = [
        Triple(
            table.labels[int(table.edge_a[k])],
            "related_to",
            table.labels[int(table.edge_b[k])],
            float(table.weight[k]),
            int(table.co_activations[k]),
        )
        for k in order.tolist()
    ]
    ws = np.sort(table.weight)
    stats = TripleStats(
        total=m,
        mean_weight=float(ws.mean()),
        median_weight=float(ws[m // 2]),
        max_weight=float(ws[-1]),
        min_weight=float(ws[0]),
        mean_co_activations=float(table.co_activations.mean()),
    )
    return out, stats


def write_triples(table: GraphTable, path: PathLike) -> Path:
    """Write ``{"stats": ..., "triples": [...]}`` as JSON, or JSON Lines (one triple per line,
    no stats) when ``path`` ends with ``.jsonl``. A name ending ``.gz`` or ``.bz2`` compresses
    either, by what comes before it: ``t.jsonl.gz`` is gzipped JSON Lines.

    Example:
        >>> import tempfile, pathlib
        >>> from phago.graph import HebbianGraph
        >>> g = HebbianGraph(); _ = g.wire_clique(g.present(["a", "b"]), 0)
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "t.jsonl"
        >>> p = write_triples(GraphTable.from_graph(g), out)
        >>> json.loads(p.read_text())["predicate"]
        'related_to'
    """
    p = Path(path)
    ts, stats = triples(table)
    rows = [
        {
            "subject": t.subject,
            "predicate": t.predicate,
            "object": t.object,
            "weight": t.weight,
            "co_activations": t.co_activations,
        }
        for t in ts
    ]  # (asdict's deep copy of every field costs more than the writing)
    if _plain_name(p).suffix.lower() == ".jsonl":
        encode = json.JSONEncoder(ensure_ascii=False).encode
        text = "".join([encode(r) + "\n" for r in rows])
    else:
        text = json.dumps({"stats": asdict(stats), "triples": rows}, ensure_ascii=False)
    with _text_output(p) as fh:
        fh.write(text)
    return p


_WRITERS = {
    "graphml": write_graphml,
    "gexf": write_gexf,
    "json": write_json,
    "csv": write_csv,
    "triples": write_triples,
}


def export_graph(table: TableSource, fmt: str, out: PathLike) -> Path:
    """Write ``table`` (or a graph or colony, see :meth:`GraphTable.of`) in format ``fmt``
    (one of :data:`FORMATS`) to ``out``.

    ``out`` is a file's path, or ``"-"`` for standard output. A file is written whole or
    not at all (see :func:`atomic_output`): when writing fails, a file already at ``out``
    is left as it was. A name ending ``.gz`` (or ``.gzip``) gives a gzip file, ``.bz2`` a
    bzip2 one, in every format; uncompressed, it holds exactly what the export to the name
    without that ending writes (for ``triples``, a name ending ``.jsonl.gz`` gives gzipped
    JSON Lines). Standard output (``"-"``, ``/dev/stdout``: written through its descriptor,
    see :func:`writes_standard_output`), and an existing path that is no regular file (a
    FIFO, a terminal, ``/dev/null``; see :func:`is_stream_output`), get the same bytes as a
    file would, written in place and never compressed.

    Raises:
        ConfigError: ``table`` is none of the above, ``fmt`` is not a format, or the name of
            ``out`` is that of another format (see :func:`check_format_name`); nothing was
            written.
        OutputError: the file cannot be written (the message names it).
        StoreError: ``out`` is a phago store (see :func:`check_output_path`); nothing was
            written.
        BrokenPipeError: ``out`` is a pipe (``"-"`` or a FIFO) whose reader closed it, as
            ``head`` does; what was written before stays written.

    Example:
        >>> import tempfile, pathlib
        >>> from phago.graph import HebbianGraph
        >>> g = HebbianGraph(); _ = g.wire_clique(g.present(["a", "b"]), 0)
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "g.csv"
        >>> row = export_graph(GraphTable.from_graph(g), "csv", p).read_text().splitlines()[1]
        >>> row.split(",")[2:5]
        ['a', 'b', '0.1']
        >>> import gzip
        >>> z = export_graph(GraphTable.from_graph(g), "csv", p.with_name("g.csv.gz"))
        >>> gzip.decompress(z.read_bytes()) == p.read_bytes()
        True
        >>> _ = export_graph(g, "triples", "-")  # doctest: +ELLIPSIS
        {"stats": {"total": 1, ...}, "triples": [{"subject": "a", ..., "weight": 0.1, ...}]}
        >>> export_graph(g, "csv", p.with_name("g.jsonl"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        phago.errors.ConfigError: g.jsonl is named for JSON Lines triples, not format csv: ...
    """
    table = GraphTable.of(table)
    if isinstance(out, bytes) or not isinstance(out, str | os.PathLike):
        raise OutputError(f"the file to write is text or a path, got {type(out).__name__}")
    writer = _WRITERS.get(fmt)
    if writer is None:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not _is_stdout(out):
        check_output_path(out)  # (first: a store is refused as one, whatever its name)
    check_format_name(fmt, out)
    try:
        return writer(table, out)
    except (PhagoError, BrokenPipeError):
        raise  # (a StoreError is an OSError too: it keeps its own type and message)
    except OSError as exc:
        raise OutputError(f"cannot write {out}: {exc.strerror or exc}") from exc
