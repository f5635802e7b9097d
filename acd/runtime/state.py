"""What the runtime remembers of a call in a queue (this process's memory; the line and
the agents are in the live store)."""

from __future__ import annotations

from dataclasses import dataclass, field

from acd.engine import WaitingCall
from switch_control import contract as c

WAITING, OFFERING, CONNECTED, DONE = "waiting", "offering", "connected", "done"
RING, MAX_WAIT, WRAP_UP = "acd.ring", "acd.max_wait", "acd.wrap_up"
BUSY_CAUSES = frozenset({c.HangupCause.USER_BUSY, c.HangupCause.CALL_REJECTED})


@dataclass
class AgentOffer:
    agent_id: str
    leg_id: str
    answered: bool = False


@dataclass
class QueuedCall:
    call_id: str
    leg_id: str  # the caller's
    queue_id: str
    caller: str
    priority: int
    vip: bool
    enqueued_at: float = 0.0
    phase: str = WAITING
    tried: set[str] = field(default_factory=set)
    failed: int = 0
    visited: list[str] = field(default_factory=list)
    offer: AgentOffer | None = None
    attempts: int = 0
    bridged: bool = False
    queued: bool = False  # in the live store's line

    @property
    def hold_id(self) -> str:
        return f"hold-{self.call_id}"

    def engine_view(self) -> WaitingCall:
        return WaitingCall(
            call_id=self.call_id,
            queue_id=self.queue_id,
            enqueued_at=self.enqueued_at,
            caller_number=self.caller,
            vip=self.vip,
            priority=self.priority,
            tried_agents=frozenset(self.tried),
            failed_offers=self.failed,
            visited_queues=tuple(self.visited),
        )
