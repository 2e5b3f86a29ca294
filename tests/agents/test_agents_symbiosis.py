"""Digesters leave sentinels and synthesizers alone unless symbiosis is switched on."""

from __future__ import annotations

import inspect

from phago import Colony, Digester, Position
from phago.agents.evolving import EvolvingDigester
from phago.agents.synthesizer import Synthesizer
from phago.corpus import load_sample_corpus
from phago.events import Died, Symbiosis


def colony_with_synthesizer(symbiosis: bool) -> tuple[Colony, Synthesizer]:
    colony = Colony(seed=1)
    docs = [d for d in load_sample_corpus() if "cooking" in d.source]
    for i, d in enumerate(docs):
        colony.ingest_document(d.title, d.content, Position(i % 4, i // 4))
    for i in range(3):
        colony.spawn(Digester(Position(i, 0), max_idle=200, symbiosis=symbiosis))
    syn = Synthesizer(Position(2, 2), quorum_threshold=0.5)
    colony.spawn(syn)
    return colony, syn


def test_symbiosis_is_off_by_default() -> None:
    assert inspect.signature(Digester.__init__).parameters["symbiosis"].default is False
    assert Digester(Position(0, 0)).symbiosis is False
    assert EvolvingDigester(Position(0, 0)).symbiosis is False


def test_digesters_do_not_absorb_emergence_agents_by_default() -> None:
    colony, syn = colony_with_synthesizer(symbiosis=False)
    events = [e for tick in colony.run(80) for e in tick]
    assert syn.insights_produced > 0  # it did signal insights next to busy digesters
    assert all(d.useful_outputs >= 3 for d in colony.agents if isinstance(d, Digester))
    assert not any(isinstance(e, Symbiosis) for e in events)
    assert syn in colony.agents


def test_symbiosis_stays_available_when_asked_for() -> None:
    colony, syn = colony_with_synthesizer(symbiosis=True)
    events = [e for tick in colony.run(80) for e in tick]
    absorbed = [e for e in events if isinstance(e, Symbiosis)]
    assert (
        absorbed and absorbed[0].absorbed == syn.id and absorbed[0].absorbed_type == "synthesizer"
    )
    deaths = [e.signal for e in events if isinstance(e, Died) and e.signal.agent_id == syn.id]
    assert deaths and deaths[0].cause.kind == "symbiotic_absorption"
    assert syn not in colony.agents


def test_an_agent_is_absorbed_by_one_host_only() -> None:
    import random

    from phago.agents.sentinel import Sentinel

    topics = [
        "cell membrane protein transport signaling pathway organelle",
        "neuron synapse axon dendrite receptor neurotransmitter potential",
        "gene dna rna transcription translation expression sequence",
    ]
    c, rnd = Colony(seed=7), random.Random(1)
    for i in range(30):
        words = topics[i % 3].split()
        rnd.shuffle(words)
        c.ingest_document(f"n{i}", " ".join(words[:6]), Position(i % 10, i // 10))
    hosts = [Digester(Position(j * 3, 1), symbiosis=True) for j in range(4)]
    for d in hosts:
        c.spawn(d)
    s = Sentinel((5, 2), maturation=3, min_concepts=5, min_reference_docs=3)
    c.spawn(s)
    absorbed = []
    for _ in range(60):
        absorbed += [e for e in c.tick() if isinstance(e, Symbiosis)]
    # (four digesters absorbed the same sentinel in one tick until the 35th session)
    assert [e.absorbed for e in absorbed] == [s.id]
    assert sum(1 for d in hosts if d.symbionts) == 1
