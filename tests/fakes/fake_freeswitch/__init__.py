"""A fake FreeSWITCH speaking the Event Socket protocol like FreeSWITCH 1.11.

See :class:`FakeFreeSwitch`; fidelity against real captures is checked by
``tests/protocol/esl/test_fake_freeswitch_fidelity.py``.
"""

from __future__ import annotations

from .channels import Channel
from .events import Event
from .server import FakeFreeSwitch

__all__ = ["Channel", "Event", "FakeFreeSwitch"]
