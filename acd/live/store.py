"""``LiveStore``: the whole live ACD state, plus recovery of a controller that died."""

from __future__ import annotations

from . import keys
from ._base import text, transition
from .agents import AgentOps
from .types import Recovery, check_id, check_time
from .waiting import WaitingOps

# The controller's heartbeat key (switch_control.daemon.STATUS_PREFIX + name): written
# every few seconds with a TTL, so its absence means the controller is gone.
HEARTBEAT_PREFIX = "callctl:status:"


class LiveStore(AgentOps, WaitingOps):
    """Agents' live state, waiting calls and reservations, shared by every controller
    over one Redis. Every method takes ``now`` (epoch seconds from the Clock port)."""

    async def recover_controller(
        self, dead: str, now: float, *, heir: str | None = None
    ) -> Recovery:
        """Recover what controller ``dead`` held, in one step (so two survivors doing it
        at once recover each thing once):

        - reservations it held are released (agents ready again, not counted missed);
        - agents on a call it carried are reported in ``on_call`` and left alone: only
          a reconcile with the switch's channels knows if those calls are still up;
        - its waiting calls are re-owned by ``heir`` keeping their score, so their place
          in line is kept; without an heir they stay its own, for its restart (a
          controller calls this on itself at start, before taking new work).
        """
        check_id("controller", dead)
        if heir is not None:
            check_id("controller", heir)
            if heir == dead:
                raise ValueError("the heir of a dead controller cannot be itself")
        reply = await self.run(
            "RECOVER",
            [keys.controller_agents(dead), keys.controller_calls(dead)],
            [dead, heir or "", check_time("now", now)],
        )
        released, on_call, reowned, kept = reply
        return Recovery(
            controller=dead,
            released=tuple(transition(r) for r in released),
            on_call=tuple(sorted(text(a) for a in on_call)),
            reowned=tuple(sorted(text(c) for c in reowned)),
            kept=tuple(sorted(text(c) for c in kept)),
        )

    async def controllers(self) -> list[str]:
        """Controllers that own (or owned) ACD state: reservations, calls, waiting calls."""
        return sorted(text(m) for m in await self.redis.smembers(keys.CONTROLLERS))

    async def dead_controllers(self, heartbeat_prefix: str = HEARTBEAT_PREFIX) -> list[str]:
        """Controllers holding ACD state whose heartbeat key is gone."""
        names = await self.controllers()
        if not names:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.exists(heartbeat_prefix + name)
            alive = await pipe.execute()
        return [n for n, a in zip(names, alive, strict=True) if not a]
