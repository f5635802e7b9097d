"""In-memory ``CallControl``: a fake switch (``FakeSwitch``) and its driver
(``FakeDriver``), good enough to run the contract suite and the daemon's unit tests. The
driver emits the same contract events, in the same order and with the same timing
(afterwards, from the switch's event task) as the real drivers do for the same
situations; tests steer the outside world through the switch."""

from __future__ import annotations

from .driver import FakeDriver
from .switch import FakeLeg, FakeSwitch, PhoneBehavior

__all__ = ["FakeDriver", "FakeLeg", "FakeSwitch", "PhoneBehavior"]
