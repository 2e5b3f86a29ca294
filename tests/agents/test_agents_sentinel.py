"""Sentinel: learning model, planted anomalies, no flood, stable labels, ranking, persistence."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from phago import Colony, ColonyConfig, Digester, Position
from phago.agents.distribution import AggregatedDistribution, GraphDistribution, LocalDistribution
from phago.agents.sentinel import Anomaly, Sentinel, SentinelState
from phago.corpus import CorpusDocument, load_sample_corpus
from phago.events import Presented
from phago.graph import HebbianGraph
from phago.ids import DocumentId, node_id
from phago.text import extract_keywords
from phago.types import Emit, NodeType, SignalType

TOPICS = ("astronomy", "cooking", "immunology", "rivers")


def by_topic() -> dict[str, list[CorpusDocument]]:
    out: dict[str, list[CorpusDocument]] = {}
    for d in load_sample_corpus():
        out.setdefault(d.source.split(":")[1].rsplit("_", 1)[0], []).append(d)
    return out


def stream_colony(
    stable: list[str], seed: int = 1, digesters: int = 6
) -> tuple[Colony, Sentinel, list[CorpusDocument]]:
    """Digesters, a sentinel, and the first 9 documents of each stable topic, interleaved."""
    docs = by_topic()
    colony = Colony(seed=seed)
    for j in range(digesters):
        colony.spawn(Digester(Position(8 * j % 40, 0), max_idle=400))
    sentinel = Sentinel(Position(15, 15))
    colony.spawn(sentinel)
    stream = [docs[t][k] for k in range(9) for t in stable]
    return colony, sentinel, stream


def run_stream(
    colony: Colony,
    stream: list[CorpusDocument],
    ticks: int,
    per: int = 3,
    every: int = 5,
    start: int = 0,
) -> None:
    """Ingest ``per`` stream documents every ``every`` ticks while running."""
    for t in range(start, start + ticks):
        if t % every == 0:
            i0 = (t // every) * per
            for i in range(i0, min(i0 + per, len(stream))):
                d = stream[i]
                colony.ingest_document(d.title, d.content, Position(8 * (i % 5) + 2, 3 * (i // 5)))
        colony.tick()


def anomaly_nodes(colony: Colony) -> list[str]:
    return [n.label for n in colony.graph.nodes() if n.node_type is NodeType.ANOMALY]


# ---------------------------------------------------------------------- end to end


@pytest.mark.parametrize("planted", TOPICS)
def test_planted_unrelated_document_is_flagged_within_bounded_ticks(planted: str) -> None:
    stable = [t for t in TOPICS if t != planted]
    colony, sentinel, stream = stream_colony(stable)
    run_stream(colony, stream, 100)
    before = anomaly_nodes(colony)
    assert len(before) <= 1  # a stable stream of known topics raises (almost) nothing
    intruder = by_topic()[planted][9]
    colony.ingest_document(intruder.title, intruder.content, Position(10, 5))
    intruder_words = {k.label for k in extract_keywords(intruder.content)}
    flagged_at = None
    for dt in range(1, 31):
        colony.tick()
        novel = [
            a for a in sentinel.anomalies.values() if a.kind == "novel" and a.first_tick >= 100
        ]
        if novel and flagged_at is None:
            flagged_at = dt
            hit = novel[0]
    assert flagged_at is not None and flagged_at <= 20
    assert hit.label.startswith("anomaly: novel concept ")
    assert hit.label.removeprefix("anomaly: novel concept ") in intruder_words
    assert set(hit.related) <= intruder_words
    # the anomaly node exists, is wired to the concepts it concerns, and an Anomaly signal went out
    aid = node_id("anomaly", hit.label)
    assert aid in colony.graph
    wired = {
        colony.graph.label_at(colony.graph.index_of(n)) for n, _e in colony.graph.neighbors(aid)
    }
    assert wired == set(hit.related)
    signals = colony.substrate.signals_near(sentinel.position, 0.0)
    assert any(s.signal_type is SignalType.ANOMALY and s.emitter == sentinel.id for s in signals)


def test_no_flood_on_a_stable_corpus() -> None:
    colony, sentinel, stream = stream_colony(["astronomy", "cooking", "rivers"], seed=2)
    presented: Counter[str] = Counter()
    for _ in range(40):
        run_stream(colony, stream, 5, start=colony.current_tick)
        for _tick, events in colony.event_history()[-5:]:
            for e in events:
                if isinstance(e, Presented) and e.agent_id == sentinel.id:
                    for nid in e.node_ids:
                        presented[colony.graph.label_at(colony.graph.index_of(nid))] += 1
    assert sentinel.state is SentinelState.SCANNING and colony.current_tick == 200
    nodes = anomaly_nodes(colony)
    concepts = sum(1 for n in colony.graph.nodes() if n.node_type is NodeType.CONCEPT)
    assert len(nodes) <= 2 < concepts  # the reference made 76 anomaly nodes for 18 concepts
    assert all(c == 1 for c in presented.values())  # one node per subject, reported once
    assert sentinel.observations >= 40  # it kept scanning and learning all along


def test_new_topic_becomes_self_after_it_is_learned() -> None:
    colony, sentinel, stream = stream_colony(["astronomy", "cooking", "rivers"])
    run_stream(colony, stream, 100)
    intruders = by_topic()["immunology"]
    for k, d in enumerate(intruders[:6]):  # the new topic keeps coming
        colony.ingest_document(d.title, d.content, Position(10 + k, 5))
        colony.run(8)
    novel = [a for a in sentinel.anomalies.values() if a.kind == "novel" and a.first_tick >= 100]
    assert 1 <= len(novel) <= 2  # flagged when it arrived, accepted once it became normal
    colony.run(60)
    assert not sentinel.top_anomalies(active_only=True)


# ---------------------------------------------------------------------- the self-model


def graph_with_docs(n_docs: int, words: list[str], seed: int = 0) -> HebbianGraph:
    """Documents drawing 6 of ``words`` each, wired as cliques."""
    rng = np.random.default_rng(seed)
    g = HebbianGraph()
    for d in range(n_docs):
        pick = list(rng.choice(words, size=6, replace=False))
        idx = g.present(pick, tick=d, document=DocumentId(1000 + d))
        g.wire_clique(idx, tick=d)
    return g


def test_deviation_is_flagged_then_learned() -> None:
    words = [f"w{i}" for i in range(20)]
    g = graph_with_docs(30, words)
    s = Sentinel(Position(0, 0), min_concepts=5)
    local = LocalDistribution()
    for t in range(12):
        s.observe(local.distribution(g, t), g)
    assert s.scan(g, LocalDistribution.measure(g, 12), 12) == []
    w3 = g.find_by_label("w3")
    assert w3 is not None
    g.increment_access([g.index_of(w3)], 200)  # a burst of attention
    found = s.scan(g, LocalDistribution.measure(g, 13), 13)
    assert [a.label for a in found] == ["anomaly: deviating concept w3"]
    assert found[0].kind == "deviation" and found[0].related[0] == "w3"
    assert found[0].significance > s.deviation_z
    # scanning again while it persists does not report it again
    assert s.scan(g, LocalDistribution.measure(g, 14), 14) == []
    for t in range(15, 40):  # it keeps learning: the new level becomes normal
        s.scan(g, LocalDistribution.measure(g, t), t)
    assert not s.anomalies["anomaly: deviating concept w3"].active
    assert s.expected_share("w3") > 0.3


def test_outlier_edge_between_established_concepts() -> None:
    words = [f"w{i}" for i in range(60)]
    g = graph_with_docs(80, words)
    s = Sentinel(Position(0, 0), min_concepts=5)
    rng = np.random.default_rng(1)
    for t in range(80, 130):  # documents keep arriving: the sentinel learns normal young edges
        pick = list(rng.choice(words, size=6, replace=False))
        g.wire_clique(g.present(pick, tick=t, document=DocumentId(5000 + t)), t)
        found = s.scan(g, LocalDistribution.measure(g, t), t)
        assert not [a for a in found if a.kind == "edge"]
    a, b = g.find_by_label("w1"), g.find_by_label("w2")
    assert a is not None and b is not None
    g.remove_edge(a, b)
    ia, ib = g.index_of(a), g.index_of(b)
    for t in range(130, 136):  # a sudden burst of co-activations of two old concepts
        g.wire_pairs([ia], [ib], tick=t)
    found = s.scan(g, LocalDistribution.measure(g, 136), 136)
    assert [x.label for x in found] == ["anomaly: edge w1 -- w2"]
    assert found[0].related == ("w1", "w2")
    assert found[0].significance > s.edge_z


def test_scan_ranks_by_significance_and_caps_per_scan() -> None:
    words = [f"w{i}" for i in range(30)]
    g = graph_with_docs(40, words)
    s = Sentinel(Position(0, 0), min_concepts=5, max_per_scan=2)
    for t in range(12):
        s.observe(LocalDistribution.measure(g, t), g)
    for k, amount in ((1, 100), (2, 300), (3, 200)):
        node = g.find_by_label(f"w{k}")
        assert node is not None
        g.increment_access([g.index_of(node)], amount)
    first = s.scan(g, LocalDistribution.measure(g, 12), 12)
    assert [a.label.split()[-1] for a in first] == ["w2", "w3"]
    assert first[0].significance >= first[1].significance
    second = s.scan(g, LocalDistribution.measure(g, 13), 13)  # the one left over
    assert [a.label.split()[-1] for a in second] == ["w1"]
    ranked = [a.significance for a in s.top_anomalies()]
    assert ranked == sorted(ranked, reverse=True)


def test_state_machine_presents_wires_then_alerts() -> None:
    docs = by_topic()
    colony = Colony(seed=5)
    for k in range(8):
        d = docs["rivers"][k]
        colony.ingest_document(d.title, d.content, Position(k, 0))
    colony.spawn(Digester(Position(0, 0), max_idle=200))
    s = Sentinel(Position(3, 3), min_reference_docs=5)
    colony.spawn(s)
    colony.run(60)
    d = docs["astronomy"][0]
    colony.ingest_document(d.title, d.content, Position(4, 0))
    actions = []
    for _ in range(30):
        tick = colony.current_tick
        colony.sense()
        assert colony._pending is not None
        actions.append((tick, colony._pending[-1]))
        colony.act()
        colony.decay()
        colony.advance()
    kinds = [type(a).__name__ for _t, a in actions]
    i = kinds.index("PresentFragments")
    assert kinds[i + 1 : i + 3] == ["WireNodes", "Emit"]
    tick, emit = actions[i + 2]
    assert isinstance(emit, Emit) and emit.signal.signal_type is SignalType.ANOMALY
    assert emit.signal.tick == tick  # stamped with the substrate tick, not the agent's age


def test_sentinel_dies_only_when_the_colony_falls_still() -> None:
    colony = Colony(seed=1)
    s = Sentinel(Position(0, 0), max_idle=20)
    colony.spawn(s)
    colony.run(19)
    assert s in colony.agents
    colony.run(5)
    assert s not in colony.agents


# ---------------------------------------------------------------------- distributions


def test_merged_distribution_equals_the_union_graph() -> None:
    g1, g2, both = HebbianGraph(), HebbianGraph(), HebbianGraph()
    for g, words in ((g1, ["a", "b", "c"]), (g2, ["c", "d"])):
        for target in (g, both):
            idx = target.present(words)
            target.wire_clique(idx, 0)
    merged = GraphDistribution.merge([LocalDistribution.measure(g1), LocalDistribution.measure(g2)])
    union = LocalDistribution.measure(both)
    assert merged.counts == union.counts
    assert merged.edge_n == union.edge_n
    assert merged.edge_mean == pytest.approx(union.edge_mean)
    assert merged.edge_std == pytest.approx(union.edge_std)
    assert GraphDistribution.from_dict(json.loads(json.dumps(merged.to_dict()))) == merged


def test_aggregated_provider_feeds_the_global_view() -> None:
    words = [f"w{i}" for i in range(20)]
    g = graph_with_docs(30, words)
    provider = AggregatedDistribution()
    s = Sentinel(Position(0, 0), min_concepts=5, provider=provider)
    assert provider.distribution(g, 0) == LocalDistribution.measure(g, 0)  # local until fed
    for t in range(12):
        s.observe(provider.distribution(g, t), g)
    glob = LocalDistribution.measure(g, 12)
    counts = dict(glob.counts)
    counts["w5"] += 500  # other shards saw much more of w5
    provider.update(GraphDistribution(counts, glob.edge_n, glob.edge_sum, glob.edge_sumsq, 12))
    found = s.scan(g, provider.distribution(g, 12), 12)
    assert [a.label for a in found] == ["anomaly: deviating concept w5"]


# ---------------------------------------------------------------------- persistence


def test_state_dict_round_trip_continues_identically() -> None:
    def build() -> tuple[Colony, Sentinel, list[CorpusDocument]]:
        return stream_colony(["astronomy", "cooking", "rivers"], seed=3)

    c1, s1, stream = build()
    c2, s2, _ = build()
    run_stream(c1, stream, 60)
    run_stream(c2, stream, 60)
    state = json.loads(json.dumps(s2.state_dict()))
    fresh = Sentinel(Position(0, 0))
    fresh.load_state_dict(state)
    c2.agents[c2.agents.index(s2)] = fresh
    intruder = by_topic()["immunology"][9]
    for c in (c1, c2):
        c.ingest_document(intruder.title, intruder.content, Position(10, 5))
        c.run(30)
    assert [a.to_dict() for a in s1.top_anomalies()] == [a.to_dict() for a in fresh.top_anomalies()]
    assert s1.top_anomalies()
    assert fresh.state_dict()["model"] == s1.state_dict()["model"]


def test_anomaly_round_trip() -> None:
    a = Anomaly("edge", "anomaly: edge a -- b", 4.5, ("a", "b"), 3, 8, 1, False)
    assert Anomaly.from_dict(a.to_dict()) == a


def test_classify_negative_selection() -> None:
    s = Sentinel(Position(0, 0))
    assert s.classify([("a", 1)]).kind == "unknown"
    s.observe(GraphDistribution({"a": 50, "b": 50}))
    s.state = SentinelState.SCANNING
    assert s.classify([("a", 5), ("b", 5)]).kind == "self"
    verdict = s.classify([("a", 9), ("zzz", 1)])
    assert verdict.kind == "non_self" and verdict.degree == 1.0


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        Sentinel(Position(0, 0), learning_rate=0.0)
    with pytest.raises(ValueError):
        Sentinel(Position(0, 0), scan_interval=0)


def test_sentinel_survives_a_large_corpus_config() -> None:
    colony = Colony(ColonyConfig.for_large_corpora(), seed=0)
    docs = by_topic()
    for k, d in enumerate(docs["rivers"]):
        colony.ingest_document(d.title, d.content, Position(k, 0))
    colony.spawn(Digester(Position(0, 0)))
    s = Sentinel(Position(0, 0))
    colony.spawn(s)
    colony.run(60)
    assert s.state is SentinelState.SCANNING
