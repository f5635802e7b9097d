"""A discrete-event simulator of queues driving the real ACD engine (``acd.engine``):
Poisson arrivals, handle-time distributions and caller patience on a fake clock,
seeded, reporting service level, ASA, abandon rate and occupancy."""

from .distributions import Constant, Distribution, ErlangK, Exponential, LogNormal, Uniform
from .simulator import Scenario, SimResult, simulate

__all__ = [
    "Constant",
    "Distribution",
    "ErlangK",
    "Exponential",
    "LogNormal",
    "Scenario",
    "SimResult",
    "Uniform",
    "simulate",
]
