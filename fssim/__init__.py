"""fssim: an ESL-speaking FreeSWITCH simulator held to real transcripts (see fssim/README.md)."""

from fssim.directory import AgentBehaviour
from fssim.simulator import SimTimeout, Simulator

__all__ = ["AgentBehaviour", "Simulator", "SimTimeout"]
