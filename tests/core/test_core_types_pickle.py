"""Pickling the value types a checkpoint holds many of: documents and death signals."""

from __future__ import annotations

import gc
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phago.colony import Colony
from phago.distributed import shard as shard_module
from phago.distributed.hashing import ConsistentHashRing
from phago.distributed.shard import ShardedColony
from phago.distributed.types import ShardId
from phago.ids import AgentId, DocumentId
from phago.types import CellHealth, DeathCause, DeathSignal, Document, Position

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
texts = st.text(max_size=40)


@given(
    did=st.integers(0, 2**64 - 1),
    title=texts,
    content=texts,
    x=finite,
    y=finite,
    digested=st.booleans(),
)
def test_a_document_pickles_to_an_equal_document(
    did: int, title: str, content: str, x: float, y: float, digested: bool
) -> None:
    doc = Document(DocumentId(did), title, content, Position(x, y), digested)
    back = pickle.loads(pickle.dumps(doc, protocol=5))
    assert back == doc and back is not doc
    assert type(back.position) is Position and back.position == Position(x, y)
    assert hash(back.position) == hash(doc.position)  # a usable frozen position


fragment_lists = st.lists(st.text(alphabet=st.sampled_from("ab\x1f é"), max_size=4), max_size=6)


@given(fragments=fragment_lists, ticks=st.integers(0, 10**6), outputs=st.integers(0, 10**6))
def test_a_death_signal_pickles_to_an_equal_signal_whatever_its_fragments(
    fragments: list[str], ticks: int, outputs: int
) -> None:
    # the separator inside a fragment, empty fragments, one empty fragment, none at all
    cause = DeathCause("self_assessed", CellHealth.SENESCENT)
    sig = DeathSignal(AgentId(3), ticks, outputs, tuple(fragments), cause)
    back = pickle.loads(pickle.dumps(sig, protocol=5))
    assert back == sig
    assert type(back.final_fragments) is tuple
    assert back.cause.health is CellHealth.SENESCENT


def test_edge_cases_of_joined_fragments_round_trip() -> None:
    for fragments in [(), ("",), ("", ""), ("a\x1fb",), ("a", "\x1f"), ("cell", "gene")]:
        sig = DeathSignal(AgentId(1), 2, 3, fragments, DeathCause("external"))
        assert pickle.loads(pickle.dumps(sig)).final_fragments == fragments


def test_a_pickled_substrate_keeps_one_document_list_and_its_digested_flags() -> None:
    colony = Colony(seed=1)
    ids = [colony.ingest_document(f"t{k}", f"cell gene {k}", Position(k, 0)) for k in range(5)]
    colony.substrate.consume_document(ids[2])
    back = pickle.loads(pickle.dumps(colony.substrate, protocol=5))
    assert [(d.id, d.digested, d.position) for d in back.documents()] == [
        (d.id, d.digested, d.position) for d in colony.substrate.documents()
    ]
    assert back.get_document(ids[2]).digested and not back.get_document(ids[1]).digested
    # the grid index and the substrate share the list, as before pickling
    back.undigested_near(Position(0, 0), 10.0)
    index = back._dindex
    assert index is not None and index.docs is back._docs


def test_loading_a_shard_snapshot_pauses_the_collector_and_restores_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ring = ConsistentHashRing(1)
    data = ShardedColony(ShardId(0), None, ring).snapshot()
    seen: list[bool] = []
    real = pickle.loads

    def loads(blob: bytes) -> object:
        seen.append(gc.isenabled())
        return real(blob)

    monkeypatch.setattr(shard_module.pickle, "loads", loads)  # type: ignore[attr-defined]
    was = gc.isenabled()
    try:
        gc.enable()
        assert isinstance(ShardedColony.from_snapshot(data, ring), ShardedColony)
        assert seen == [False] and gc.isenabled()  # paused while loading, then on again
        gc.disable()
        ShardedColony.from_snapshot(data, ring)
        assert seen == [False, False] and not gc.isenabled()  # the caller's off stays off
    finally:
        (gc.enable if was else gc.disable)()


@given(
    docs=st.lists(
        st.tuples(
            texts,
            st.text(alphabet=st.sampled_from("abc é\x00"), min_size=1, max_size=30).filter(
                lambda c: c.strip(" \x00")
            ),
            st.floats(-1e6, 1e6),
            st.floats(-1e6, 1e6),
            st.booleans(),
        ),
        max_size=12,
    )
)
def test_a_substrate_pickles_its_documents_as_columns_and_back(
    docs: list[tuple[str, str, float, float, bool]],
) -> None:
    from phago.errors import DocumentError
    from phago.substrate import Substrate

    s = Substrate()
    for title, content, x, y, eat in docs:
        try:
            did = s.add_document(title, content, Position(x, y))
        except DocumentError:  # what the substrate refuses is not the point here
            continue
        if eat:
            s.consume_document(did)
    back = pickle.loads(pickle.dumps(s, protocol=5))
    assert back.documents() == s.documents()
    assert all(type(d.position) is Position for d in back.documents())
    assert back.undigested_count == s.undigested_count
    near = [(d, i) for d, i in s.undigested_near(Position(0, 0), 2e6)]
    assert [(d, i) for d, i in back.undigested_near(Position(0, 0), 2e6)] == near


def test_a_pickled_config_reads_back_equal_and_fills_a_field_it_lacked() -> None:
    from phago.config import ColonyConfig
    from phago.errors import ConfigError

    config = ColonyConfig(max_fragments=3, death_record_limit=7)
    assert pickle.loads(pickle.dumps(config)) == config
    # a checkpoint pickled before a field existed: the field takes its default
    older = config.__getstate__()
    del older["death_record_limit"]
    read = object.__new__(ColonyConfig)
    read.__setstate__(older)
    assert read == ColonyConfig(max_fragments=3)
    # the positional state of earlier pickles still reads when it has every field
    positional = object.__new__(ColonyConfig)
    positional.__setstate__(list(config.__getstate__().values()))
    assert positional == config
    with pytest.raises(TypeError, match="pickled with 2 fields"):
        object.__new__(ColonyConfig).__setstate__([0.05, 0.01])
    with pytest.raises(ConfigError):
        object.__new__(ColonyConfig).__setstate__({"max_fragments": -1})
