"""Colony agents: digesters, sentinels, synthesizers, and evolution (genome, fitness, spawning).

Each name is imported from its module on first use (see :mod:`phago._lazy`).
"""

from typing import TYPE_CHECKING

from phago._lazy import lazy_package

if TYPE_CHECKING:
    from phago.agents.base import Agent, AgentProfile, ColonyView
    from phago.agents.digester import Digester, DigesterState
    from phago.agents.evolving import EvolvingDigester
    from phago.agents.fitness import AgentFitness, FitnessTracker
    from phago.agents.fitness_terms import EdgeTerms, FitnessRecorder
    from phago.agents.genome import Genome
    from phago.agents.sentinel import Sentinel
    from phago.agents.spawn import FitnessSpawnPolicy, NoSpawnPolicy, RandomSpawnPolicy
    from phago.agents.synthesizer import Synthesizer

lazy_package(
    __name__,
    {
        **dict.fromkeys(["Agent", "AgentProfile", "ColonyView"], ".base"),
        **dict.fromkeys(["Digester", "DigesterState"], ".digester"),
        "EvolvingDigester": ".evolving",
        **dict.fromkeys(["AgentFitness", "FitnessTracker"], ".fitness"),
        **dict.fromkeys(["EdgeTerms", "FitnessRecorder"], ".fitness_terms"),
        "Genome": ".genome",
        "Sentinel": ".sentinel",
        **dict.fromkeys(["FitnessSpawnPolicy", "NoSpawnPolicy", "RandomSpawnPolicy"], ".spawn"),
        "Synthesizer": ".synthesizer",
    },
)

__all__ = [
    "Agent",
    "AgentFitness",
    "AgentProfile",
    "ColonyView",
    "Digester",
    "DigesterState",
    "EdgeTerms",
    "EvolvingDigester",
    "FitnessRecorder",
    "FitnessSpawnPolicy",
    "FitnessTracker",
    "Genome",
    "NoSpawnPolicy",
    "RandomSpawnPolicy",
    "Sentinel",
    "Synthesizer",
]
