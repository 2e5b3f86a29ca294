"""Colony agents: digesters, sentinels, synthesizers, and evolution (genome, fitness, spawning)."""

from phago.agents.base import Agent, AgentProfile, ColonyView
from phago.agents.digester import Digester, DigesterState
from phago.agents.evolving import EvolvingDigester
from phago.agents.fitness import AgentFitness, FitnessTracker
from phago.agents.fitness_terms import EdgeTerms, FitnessRecorder
from phago.agents.genome import Genome
from phago.agents.sentinel import Sentinel
from phago.agents.spawn import FitnessSpawnPolicy, NoSpawnPolicy, RandomSpawnPolicy
from phago.agents.synthesizer import Synthesizer

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
