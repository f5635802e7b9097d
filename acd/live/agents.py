"""Agent live state: login, ready/not ready, queue sign-in, reservation, call, wrap-up.

ACD-7 states and ACD-8 sign-in, each change one Lua step returning a ``Transition``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from . import keys
from ._base import (
    DONE,
    NOTHING,
    ScriptHost,
    as_dict,
    pairs,
    refusal,
    snapshot,
    transition,
    waiting_call,
)
from .types import AgentSnapshot, AgentState, Transition, WaitingCall, check_id, check_time

# One reserve_first call ranks at most this many agents: the engine's shortlist, not
# the whole queue (the script runs while Redis serves no one else).
MAX_CANDIDATES = 256


class AgentOps(ScriptHost):
    """The agent half of the live ACD store (mixed into ``LiveStore``)."""

    async def login(
        self,
        agent_id: str,
        now: float,
        *,
        queues: Iterable[str] = (),
        ready: bool = False,
        reason: str = "",
    ) -> Transition:
        """ACD-7: logged out -> ready, or not ready with ``reason``; signed into ``queues``
        (ACD-8). Refused (InvalidTransition) when the agent is already logged in."""
        check_id("agent", agent_id)
        qs = sorted({check_id("queue", q) for q in queues})
        state = AgentState.READY if ready else AgentState.NOT_READY
        if ready and reason:
            raise ValueError("a ready agent has no not-ready reason")
        args = [agent_id, check_time("now", now), self.utc_offset_s, state, reason, " ".join(qs)]
        return await self.agent_op("LOGIN", "log in", agent_id, args)

    async def logout(self, agent_id: str, now: float) -> Transition:
        """Signed out of every queue; refused while reserved or on a call."""
        check_id("agent", agent_id)
        return await self.agent_op(
            "LOGOUT", "log out", agent_id, [agent_id, check_time("now", now)]
        )

    async def set_ready(self, agent_id: str, now: float) -> Transition:
        """Not ready or wrap-up (ended early by the agent, ACD-7) -> ready. Ready again is
        a no-op (``changed`` False). Resets the missed-offers count."""
        return await self._set_state(agent_id, now, AgentState.READY, "")

    async def set_not_ready(self, agent_id: str, now: float, reason: str) -> Transition:
        """Ready, not ready (another reason) or wrap-up -> not ready with ``reason``."""
        if not reason or len(reason) > 64 or any(c.isspace() for c in reason):
            raise ValueError(f"not-ready reason must be 1-64 characters, no spaces: {reason!r}")
        return await self._set_state(agent_id, now, AgentState.NOT_READY, reason)

    async def _set_state(
        self, agent_id: str, now: float, target: AgentState, reason: str
    ) -> Transition:
        check_id("agent", agent_id)
        args = [agent_id, check_time("now", now), target, reason]
        return await self.agent_op("SET_STATE", f"go {target}", agent_id, args)

    async def sign_in(self, agent_id: str, queue_id: str) -> Transition:
        """ACD-8: the agent (logged in) takes calls of ``queue_id`` too."""
        return await self._sign(agent_id, queue_id, "in")

    async def sign_out(self, agent_id: str, queue_id: str) -> Transition:
        return await self._sign(agent_id, queue_id, "out")

    async def _sign(self, agent_id: str, queue_id: str, way: str) -> Transition:
        check_id("agent", agent_id)
        check_id("queue", queue_id)
        return await self.agent_op("SIGN", f"sign {way}", agent_id, [agent_id, queue_id, way])

    async def reserve(
        self, agent_id: str, call_id: str, controller: str, ttl: float, now: float
    ) -> Transition:
        """Ready and unreserved -> reserved for ``call_id`` by ``controller`` until
        ``now + ttl``. Refused with AgentNotAvailable otherwise: two reservations of
        one agent can never both succeed, from any number of controllers."""
        until = self._until(ttl, now)
        check_id("agent", agent_id)
        args = [agent_id, check_id("call", call_id), check_id("controller", controller), until]
        return await self.agent_op("RESERVE", "reserve", agent_id, [*args, now], call_id=call_id)

    async def reserve_first(
        self,
        candidates: Sequence[str],
        call_id: str,
        controller: str,
        ttl: float,
        now: float,
    ) -> Transition | None:
        """Reserve the first ready, unreserved agent of ``candidates`` (the engine's
        ranking, best first) in one step; None when none is. Unknown ids are skipped."""
        until = self._until(ttl, now)
        if len(candidates) > MAX_CANDIDATES:
            raise ValueError(f"{len(candidates)} candidates: rank at most {MAX_CANDIDATES}")
        ids = [check_id("agent", a) for a in candidates]
        if not ids:
            return None
        args = [check_id("call", call_id), check_id("controller", controller), until, now, *ids]
        reply = await self.run("RESERVE_FIRST", [keys.agent(a) for a in ids], args)
        return None if int(reply[0]) == NOTHING else transition(reply)

    async def release(
        self,
        agent_id: str,
        call_id: str,
        now: float,
        *,
        missed: bool = False,
        max_missed: int = 0,
    ) -> Transition:
        """Reserved for ``call_id`` -> ready (the offer ended: caller gone, another agent
        answered). ``missed`` (no answer, ACD-6) counts a missed offer; at
        ``max_missed`` in a row (0: never) the agent goes not ready, reason
        ``missed_offers``. WrongCall if the agent now holds another call."""
        check_id("agent", agent_id)
        check_id("call", call_id)
        if isinstance(max_missed, bool) or not isinstance(max_missed, int) or max_missed < 0:
            raise ValueError(f"max_missed must be an integer >= 0, got {max_missed!r}")
        args = [agent_id, call_id, check_time("now", now), int(missed), max_missed]
        return await self.agent_op("RELEASE", "release", agent_id, args, call_id=call_id)

    async def confirm(
        self, agent_id: str, call_id: str, now: float
    ) -> tuple[Transition, WaitingCall | None]:
        """Reserved for ``call_id`` -> on call (the agent answered). Counts the call for
        today, resets missed offers, and takes the call out of its queue in the same
        step, so it is never both waiting and answered; returns that waiting entry (for
        the wait time, ASA) or None if the call was not queued."""
        check_id("agent", agent_id)
        check_id("call", call_id)
        args = [agent_id, call_id, check_time("now", now), self.utc_offset_s]
        reply = await self.run("CONFIRM", [keys.agent(agent_id)], args)
        if int(reply[0]) != DONE:
            raise refusal(reply, "confirm", agent_id, call_id)
        entry = pairs(reply[8])
        return transition(reply), (waiting_call(call_id, entry) if entry else None)

    async def end_call(
        self, agent_id: str, call_id: str, now: float, wrap_up_s: float
    ) -> Transition:
        """On ``call_id`` -> wrap-up until ``now + wrap_up_s`` (ACD-7, 0: straight to
        ready). Adds the talk time to today's counter."""
        check_id("agent", agent_id)
        check_id("call", call_id)
        if check_time("wrap_up_s", wrap_up_s) < 0:
            raise ValueError(f"wrap_up_s must be >= 0, got {wrap_up_s}")
        args = [agent_id, call_id, check_time("now", now), float(wrap_up_s), self.utc_offset_s]
        return await self.agent_op("END_CALL", "end call", agent_id, args, call_id=call_id)

    async def expire_reservations(self, now: float, limit: int = 100) -> list[Transition]:
        """Release every reservation whose TTL has passed (not counted as missed: the
        controller that held it lost track, not the agent). At most ``limit`` a call."""
        return await self._due("EXPIRE", keys.RESERVATIONS, now, limit)

    async def end_wrap_ups(self, now: float, limit: int = 100) -> list[Transition]:
        """Wrap-ups due by ``now`` -> ready, as of their own end time."""
        return await self._due("END_WRAP_UPS", keys.WRAPUPS, now, limit)

    async def _due(self, name: str, key: str, now: float, limit: int) -> list[Transition]:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        replies = await self.run(name, [key], [check_time("now", now), limit])
        return [transition(r) for r in replies]

    async def agent(self, agent_id: str) -> AgentSnapshot | None:
        """The agent's live state, None if it never logged in."""
        h = as_dict(await self.redis.hgetall(keys.agent(check_id("agent", agent_id))))
        return snapshot(agent_id, h) if h else None

    async def agents(self, agent_ids: Sequence[str]) -> list[AgentSnapshot | None]:
        """Many agents' live state in one round trip (for the engine's ranking)."""
        ids = [check_id("agent", a) for a in agent_ids]
        async with self.redis.pipeline(transaction=False) as pipe:
            for a in ids:
                pipe.hgetall(keys.agent(a))
            replies = await pipe.execute()
        out: list[AgentSnapshot | None] = []
        for a, reply in zip(ids, replies, strict=True):
            h = as_dict(reply)
            out.append(snapshot(a, h) if h else None)
        return out

    async def agents_in_queue(self, queue_id: str) -> list[str]:
        """Ids of the logged-in agents signed into ``queue_id``, sorted."""
        members = await self.redis.smembers(keys.queue_agents(check_id("queue", queue_id)))
        return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)

    def _until(self, ttl: float, now: float) -> float:
        check_time("now", now)
        if check_time("ttl", ttl) <= 0:
            raise ValueError(f"reservation ttl must be > 0 seconds, got {ttl}")
        return float(now) + float(ttl)
