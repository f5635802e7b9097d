"""Agent commands (ACD-7, ACD-8): ``LoginAgent``, ``LogoutAgent``, ``SetAgentState``.

The web changes live agent state only through these; each change is one step of the live
store (Lua), answered with an ``AgentStateChanged``; a refusal (unknown agent or queue, a
queue he is not a member of, an unknown not-ready reason, a transition the state does not
allow) is a ``CommandFailed`` with the reason, and nothing is written. An agent who becomes
ready gets the waiting callers of his queues offered at once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from acd.live import LiveStateError, Transition
from switch_control import contract as c

if TYPE_CHECKING:
    from .runtime import AcdRuntime

logger = logging.getLogger(__name__)

EXTENSIONS_KEY = "acd:runtime:extensions"  # agent id -> the extension he logged in at


class Refused(Exception):
    def __init__(self, error: str, reason: str) -> None:
        super().__init__(reason)
        self.error = error
        self.reason = reason


class AgentCommands:
    def __init__(self, rt: AcdRuntime) -> None:
        self.rt = rt

    async def handle(self, cmd: c.Command, in_flight: bool) -> None:
        """The dispatcher's handler for ``c.ACD_COMMANDS`` (under the agent's key)."""
        try:
            if isinstance(cmd, c.LoginAgent):
                t = await self._login(cmd)
            elif isinstance(cmd, c.LogoutAgent):
                self._agent(cmd.agent_id)
                t = await self.rt.store.logout(cmd.agent_id, self.rt.now())
            elif isinstance(cmd, c.SetAgentState):
                t = await self._set_state(cmd)
            else:
                raise Refused("UnknownCommand", f"{cmd.TYPE} is not an agent command")
        except Refused as exc:
            await self.rt.fail(cmd, exc.error, exc.reason)
            return
        except LiveStateError as exc:
            await self.rt.fail(cmd, type(exc).__name__, str(exc))
            return
        except ValueError as exc:
            await self.rt.fail(cmd, "InvalidCommand", str(exc))
            return
        await self.rt.emit_transition(t, getattr(cmd, "by", "") or t.agent_id)
        self.after(t)

    def after(self, t: Transition) -> None:
        """A transition that freed the agent: offer his queues' waiting callers."""
        if t.changed and t.agent.state.value == "ready":
            for queue_id in t.agent.queues:
                self.rt.calls.request_dispatch(queue_id)

    def _agent(self, agent_id: str) -> None:
        if agent_id not in self.rt.config.agents:
            raise Refused("UnknownAgent", f"agent {agent_id} is not configured")

    async def _login(self, cmd: c.LoginAgent) -> Transition:
        self._agent(cmd.agent_id)
        config = self.rt.config
        member_of = config.queues_of(cmd.agent_id)
        queues = cmd.queue_ids or member_of
        for queue_id in queues:
            if queue_id not in config.queues:
                raise Refused("UnknownQueue", f"queue {queue_id} is not configured")
            if queue_id not in member_of:
                raise Refused(
                    "NotAMember", f"agent {cmd.agent_id} is not a member of queue {queue_id}"
                )
        extension = cmd.extension or config.agents[cmd.agent_id].extension
        if not extension:
            raise Refused("NoExtension", f"agent {cmd.agent_id} has no extension to ring")
        if not cmd.ready and cmd.reason:
            self._reason(cmd.reason)
        t = await self.rt.store.login(
            cmd.agent_id,
            self.rt.now(),
            queues=queues,
            ready=cmd.ready,
            reason="" if cmd.ready else cmd.reason,
        )
        await self.rt.redis.hset(EXTENSIONS_KEY, cmd.agent_id, extension)
        return t

    def _reason(self, reason: str) -> None:
        known = self.rt.config.not_ready_reasons
        if known and reason not in known:
            raise Refused("UnknownReason", f"not-ready reason {reason!r} is not configured")

    async def _set_state(self, cmd: c.SetAgentState) -> Transition:
        self._agent(cmd.agent_id)
        now = self.rt.now()
        if cmd.state is c.AgentStateRequest.READY:
            return await self.rt.store.set_ready(cmd.agent_id, now)
        if not cmd.reason:
            raise Refused("InvalidCommand", "not ready needs a reason")
        self._reason(cmd.reason)
        return await self.rt.store.set_not_ready(cmd.agent_id, now, cmd.reason)

    async def extension(self, agent_id: str) -> str:
        """The extension to ring: where he logged in, else the configured one."""
        raw = await self.rt.redis.hget(EXTENSIONS_KEY, agent_id)
        if raw:
            return raw.decode() if isinstance(raw, bytes) else str(raw)
        conf = self.rt.config.agents.get(agent_id)
        return conf.extension if conf else ""
