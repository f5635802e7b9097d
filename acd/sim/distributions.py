"""Time distributions for the simulator: handle times and caller patience.

Each is a frozen value with its ``mean`` and ``sample(rng)``; the RNG is passed in so a
seed makes a run repeatable.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Protocol


class Distribution(Protocol):
    @property
    def mean(self) -> float: ...

    def sample(self, rng: random.Random) -> float: ...


def _positive(name: str, value: float) -> None:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be > 0, not {value!r}")


@dataclass(frozen=True, slots=True)
class Exponential:
    """Memoryless: what Erlang C assumes for handle times (M/M/N)."""

    mean: float

    def __post_init__(self) -> None:
        _positive("exponential mean", self.mean)

    def sample(self, rng: random.Random) -> float:
        return rng.expovariate(1.0 / self.mean)


@dataclass(frozen=True, slots=True)
class Constant:
    value: float

    def __post_init__(self) -> None:
        _positive("constant value", self.value)

    @property
    def mean(self) -> float:
        return self.value

    def sample(self, rng: random.Random) -> float:
        return self.value


@dataclass(frozen=True, slots=True)
class LogNormal:
    """Real handle times: most calls short, a long tail. Given by mean and standard
    deviation of the times themselves (not of their logarithm)."""

    mean: float
    stddev: float

    def __post_init__(self) -> None:
        _positive("log-normal mean", self.mean)
        _positive("log-normal standard deviation", self.stddev)

    def sample(self, rng: random.Random) -> float:
        sigma2 = math.log(1.0 + (self.stddev / self.mean) ** 2)
        mu = math.log(self.mean) - sigma2 / 2.0
        return rng.lognormvariate(mu, math.sqrt(sigma2))


@dataclass(frozen=True, slots=True)
class ErlangK:
    """Sum of ``k`` exponential phases: less variable than exponential (k=1 is one)."""

    k: int
    mean: float

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"Erlang shape k must be >= 1, not {self.k!r}")
        _positive("Erlang mean", self.mean)

    def sample(self, rng: random.Random) -> float:
        return rng.gammavariate(self.k, self.mean / self.k)


@dataclass(frozen=True, slots=True)
class Uniform:
    low: float
    high: float

    def __post_init__(self) -> None:
        if not 0 <= self.low < self.high:
            raise ValueError(f"need 0 <= low < high, got {self.low!r}, {self.high!r}")

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2.0

    def sample(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)
