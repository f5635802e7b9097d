"""Plain snapshots the ACD engine decides over (ACD-1 … ACD-8).

The controller maps its live state (Redis) and the configuration (Django models) into
these frozen values; the engine never sees a model, a socket or a clock. Times are
seconds since the epoch as floats (what the controller's ``Clock`` returns), durations
are seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

_EMPTY: Mapping[str, int] = MappingProxyType({})


def _no_skills() -> Mapping[str, int]:
    return _EMPTY  # one shared read-only empty mapping


class AgentState(StrEnum):
    """ACD-7 agent states (the values match ``acd.models.AgentState``, plus ``reserved``)."""

    LOGGED_OUT = "logged_out"
    READY = "ready"
    NOT_READY = "not_ready"
    RESERVED = "reserved"  # picked for a call, its phone not ringing yet
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"


#: States of an agent who is working and will be free again on his own: worth waiting
#: for when he is the caller's owner or last agent (ACD-3). Not-ready and logged-out
#: agents are not: nobody knows when they come back.
BUSY_STATES = frozenset(
    {AgentState.RESERVED, AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP}
)


class Strategy(StrEnum):
    """ACD-1 distribution strategies."""

    LONGEST_IDLE = "longest_idle"
    ROUND_ROBIN = "round_robin"
    RING_ALL = "ring_all"
    FEWEST_CALLS = "fewest_calls"
    LEAST_TALK_TIME = "least_talk_time"
    RANDOM = "random"
    LINEAR = "linear"  # top-down: always the first free member in the configured order
    SKILL_WEIGHTED = "skill_weighted"


@dataclass(frozen=True, slots=True)
class AgentView:
    """One agent as the engine sees him.

    ``idle_since`` is when he last became free (end of his last wrap-up, or login);
    ``skills`` maps a skill name to his level (higher is better)."""

    agent_id: str
    extension: str
    state: AgentState
    idle_since: float = 0.0
    skills: Mapping[str, int] = field(default_factory=_no_skills)
    teams: frozenset[str] = frozenset()
    calls_today: int = 0
    talk_time_today: float = 0.0
    last_offer_at: float | None = None


@dataclass(frozen=True, slots=True)
class QueueMember:
    """An agent signed in to a queue (ACD-8).

    ``tier``: lower tiers are offered first; a higher tier only gets calls when no
    agent of a lower tier is free. ``position`` orders members within a tier for the
    linear and round-robin strategies."""

    agent_id: str
    tier: int = 0
    position: int = 0


class RegionTargetKind(StrEnum):
    AGENT = "agent"
    TEAM = "team"


@dataclass(frozen=True, slots=True)
class RegionRule:
    """ACD-4: callers from a province/city, or named numbers, go to a team or an agent.

    A rule matches when the caller's number is in ``numbers``, or when ``province``
    (and ``city``, if set) equal the caller's region. ``window``: how long (seconds
    from the call's entry) the call waits for that team/agent before any member of the
    queue may take it; ``None`` waits for them only (until the queue's max wait)."""

    target_kind: RegionTargetKind
    target_id: str
    province: str | None = None
    city: str | None = None
    numbers: frozenset[str] = frozenset()
    window: float | None = 30.0


@dataclass(frozen=True, slots=True)
class StickyPolicy:
    """ACD-3: how long (seconds from the call's entry) the owner agent, then the last
    agent, are preferred over the rest of the queue. 0 turns a step off."""

    owner_window: float = 0.0
    last_agent_window: float = 0.0


class OverflowTrigger(StrEnum):
    """ACD-6: why a call cannot stay where it is."""

    NO_ANSWER = "no_answer"  # the offered agent let it ring out (ring timeout)
    BUSY = "busy"  # the agent's phone refused it (busy, rejected, offline)
    MAX_WAIT = "max_wait"  # the caller waited longer than the queue's max wait
    NO_AGENTS = "no_agents"  # nobody is logged in to the queue: waiting is pointless


class OverflowAction(StrEnum):
    NEXT_AGENT = "next_agent"  # stay in the queue, offer the next agent
    QUEUE = "queue"  # move to another queue (target: its id)
    VOICEMAIL = "voicemail"  # leave a message (target: a mailbox, "" = the queue's)
    EXTERNAL = "external"  # dial an outside number, e.g. a mobile (target: the number)


@dataclass(frozen=True, slots=True)
class OverflowRule:
    """ACD-6: on ``trigger`` do ``action``. For no-answer/busy the rule fires once the
    call has failed ``after_failures`` offers (so "two agents, then a mobile")."""

    trigger: OverflowTrigger
    action: OverflowAction
    target: str = ""
    after_failures: int = 1

    def __post_init__(self) -> None:
        if self.after_failures < 1:
            raise ValueError("an overflow rule fires after at least 1 failed offer")
        if self.action in (OverflowAction.QUEUE, OverflowAction.EXTERNAL) and not self.target:
            raise ValueError(f"overflow to {self.action.value} needs a target")
        if self.action is OverflowAction.NEXT_AGENT and self.trigger not in (
            OverflowTrigger.NO_ANSWER,
            OverflowTrigger.BUSY,
        ):
            raise ValueError(f"'next agent' only follows a failed offer, not {self.trigger.value}")


@dataclass(frozen=True, slots=True)
class QueueView:
    """A queue (skill group) with its members and rules.

    ``skills_wanted`` maps a skill to the minimum level an agent needs; ``max_wait``
    is seconds or ``None`` (no limit); ``ring_all_limit`` caps how many agents a
    ring-all offer rings at once (``None``: every free one)."""

    queue_id: str
    strategy: Strategy
    members: tuple[QueueMember, ...] = ()
    skills_wanted: Mapping[str, int] = field(default_factory=_no_skills)
    ring_timeout: float = 20.0
    max_wait: float | None = None
    overflow: tuple[OverflowRule, ...] = ()
    sticky: StickyPolicy = field(default_factory=StickyPolicy)
    region_rules: tuple[RegionRule, ...] = ()
    ring_all_limit: int | None = None

    def __post_init__(self) -> None:
        if self.ring_timeout <= 0:
            raise ValueError(f"queue {self.queue_id}: ring timeout must be > 0 seconds")
        if self.max_wait is not None and self.max_wait <= 0:
            raise ValueError(f"queue {self.queue_id}: max wait must be > 0 seconds or None")
        if self.ring_all_limit is not None and self.ring_all_limit < 1:
            raise ValueError(f"queue {self.queue_id}: ring-all limit must be >= 1 or None")


@dataclass(frozen=True, slots=True)
class Region:
    """The caller's area, looked up from the number by the caller of the engine."""

    province: str
    city: str = ""


@dataclass(frozen=True, slots=True)
class WaitingCall:
    """A caller waiting in a queue.

    ``priority``: higher goes first (the runtime adds the access number's and the
    queue's priority, ACD-2); ``vip`` callers go ahead of everyone (IVR-9).
    ``tried_agents``: agents who already failed this call (no answer/busy) and are not
    offered it again; ``failed_offers`` counts those failures (a ring-all counts one).
    ``visited_queues``: queues the call overflowed through, to never loop (ACD-6)."""

    call_id: str
    queue_id: str
    enqueued_at: float
    caller_number: str = ""
    vip: bool = False
    priority: int = 0
    region: Region | None = None
    owner_agent_id: str | None = None
    last_agent_id: str | None = None
    skills_wanted: Mapping[str, int] = field(default_factory=_no_skills)
    tried_agents: frozenset[str] = frozenset()
    failed_offers: int = 0
    visited_queues: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PickMemory:
    """What round robin remembers between picks of one queue: the (position, agent id)
    of the member it offered last. The runtime stores one per queue."""

    last: tuple[int, str] | None = None
