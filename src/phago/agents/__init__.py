"""Colony agents."""

from phago.agents.base import Agent, AgentProfile, ColonyView
from phago.agents.digester import Digester, DigesterState
from phago.agents.fitness import AgentFitness, FitnessTracker

__all__ = [
    "Agent",
    "AgentFitness",
    "AgentProfile",
    "ColonyView",
    "Digester",
    "DigesterState",
    "FitnessTracker",
]
