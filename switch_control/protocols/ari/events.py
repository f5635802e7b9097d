"""The ARI events websocket: connect, reconnect, and say when our app is not registered.

Asterisk registers a Stasis app for as long as a websocket on ``/ari/events?app=<name>``
is open; without one no call reaches the controller (SW-1), so a switch that answers
REST but not the upgrade is as bad as a dead one, only quieter. This module keeps the
websocket up and tracks whether the app is registered (SW-4):

- the upgrade has its own deadline (``UPGRADE_TIMEOUT_S``): Asterisk 22 has been seen
  to leave an app's old websocket in CLOSE-WAIT and never answer later upgrades for
  that app name (issue 12, ``scripts/repro_ari_ws_hang.py``). A stalled attempt is
  dropped and retried with capped exponential backoff, so the controller registers by
  itself as soon as the switch answers again;
- after a failed attempt a ``GET /asterisk/ping`` tells "switch down" (a warning, as
  before) from "switch reachable but app not registered": the latter is an ERROR,
  repeated with backoff while it lasts (``alarm_repeat_after``), never one per retry;
- ``AppRegistration.snapshot()`` is what the controller's status shows: registered or
  not, since when, why, how many attempts;
- a deliberate close sends a close frame and waits for Asterisk's: with a close frame
  Asterisk closes its side at once, while after a bare TCP close it only marks the
  socket closing and keeps it (CLOSE-WAIT) until the last reference to the session
  goes (``res_http_websocket.c``, ``ws_safe_read`` / ``websocket_close``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import aiohttp

if TYPE_CHECKING:
    from .client import AriConfig

logger = logging.getLogger(__name__)

UPGRADE_TIMEOUT_S = 5.0  # Asterisk answers an upgrade in ~1 ms (0.4 ms median measured)
PING_TIMEOUT_S = 3.0
ALARM_GRACE_S = 10.0  # a switch starting up answers HTTP before ARI is ready
ALARM_REPEAT_S = 30.0
ALARM_REPEAT_MAX_S = 900.0


def alarm_repeat_after(lines_logged: int) -> float:
    """Seconds from one "app not registered" ERROR line to the next: 30, 60, 120 … 900."""
    return float(min(ALARM_REPEAT_S * 2.0 ** max(lines_logged - 1, 0), ALARM_REPEAT_MAX_S))


@dataclass
class AppRegistration:
    """Whether our Stasis app is registered on the switch, and if not since when and why."""

    app: str
    registered: bool = False
    since: float | None = None  # wall clock: first failed attempt since the last success
    reason: str = ""
    switch_reachable: bool | None = None  # None: not known (never tried, or registered)
    attempts: int = 0  # failed attempts since ``since``
    ever_registered: bool = False
    _first_failure_mono: float = 0.0
    _next_log_mono: float = 0.0
    _lines: int = 0

    def snapshot(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "registered": self.registered,
            "since": self.since,
            "reason": self.reason,
            "switch_reachable": self.switch_reachable,
            "attempts": self.attempts,
        }

    def succeeded(self) -> float | None:
        """Registered; returns how long it was not (seconds) if an alarm was raised."""
        down_for = time.monotonic() - self._first_failure_mono if self._lines else None
        self.registered = True
        self.ever_registered = True
        self.since = None
        self.reason = ""
        self.switch_reachable = None
        self.attempts = 0
        self._lines = 0
        return down_for

    def lost(self, reason: str, *, now: float | None = None) -> None:
        """The open websocket went away: not registered from now on (``now``: monotonic)."""
        now = time.monotonic() if now is None else now
        self.registered = False
        if self.since is None:
            self.since = time.time()
            self._first_failure_mono = now
            self._next_log_mono = now + ALARM_GRACE_S
        self.reason = reason

    def failed(self, reason: str, reachable: bool | None, *, now: float | None = None) -> bool:
        """One failed attempt. True when an ERROR line is due (switch reachable, the app
        not registered for longer than the grace, and the last line long enough ago)."""
        now = time.monotonic() if now is None else now
        self.lost(reason, now=now)
        self.attempts += 1
        self.switch_reachable = reachable
        if not reachable or now < self._next_log_mono:
            return False
        self._lines += 1
        self._next_log_mono = now + alarm_repeat_after(self._lines)
        return True


class EventStream:
    """The reconnecting events websocket of one ``AriClient``.

    The client hands in what it owns: the aiohttp session, the ``connected`` flag, its
    hooks (run on every (re)connection / loss) and the handler of each text frame.
    """

    def __init__(
        self,
        config: AriConfig,
        *,
        connected: asyncio.Event,
        session: Callable[[], aiohttp.ClientSession],
        closing: Callable[[], bool],
        opened: Callable[[], Awaitable[None]],
        lost: Callable[[], Awaitable[None]],
        text: Callable[[str], Awaitable[None]],
        ping: Callable[[], Awaitable[Any]],
    ) -> None:
        self.config = config
        self.registration = AppRegistration(config.app)
        self.last_error = ""
        self._connected = connected
        self._session = session
        self._closing = closing
        self._opened = opened
        self._lost = lost
        self._text = text
        self._ping = ping
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    def url(self) -> str:
        base = self.config.url.replace("http://", "ws://").replace("https://", "wss://")
        sub = "true" if self.config.subscribe_all else "false"
        return f"{base}/events?app={quote(self.config.app, safe='')}&subscribeAll={sub}"

    async def run(self) -> None:
        """Connect, read, reconnect with backoff, until the client closes."""
        backoff = self.config.backoff_initial
        while not self._closing():
            reachable: bool | None = None
            try:
                ws = await self._connect()
                async with ws:
                    self._ws = ws
                    backoff = self.config.backoff_initial
                    self._registered()
                    # hooks (event filter, reconciliation) run before anyone is told
                    # we are connected; events meanwhile wait in the socket
                    await self._opened()
                    self._connected.set()
                    async for msg in ws:
                        if msg.type == aiohttp.WSMsgType.TEXT:
                            await self._text(msg.data)
                        elif msg.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSED):
                            break
                reason = "websocket closed"
            except asyncio.CancelledError:
                raise
            except aiohttp.WSServerHandshakeError as exc:
                reason = f"handshake refused ({exc.status}); check ARI credentials/app"
                reachable = True  # the switch's HTTP server answered
            except TimeoutError:
                if self._ws is None:
                    reason = f"websocket upgrade not answered within {self._deadline():g}s"
                else:
                    reason = "websocket timed out"
                reachable = await self._reachable()
            except aiohttp.ClientConnectorError as exc:  # nothing listening, or no route
                reason = f"{exc.__class__.__name__}: {exc}"
                reachable = False
            except (aiohttp.ClientError, OSError) as exc:
                reason = f"{exc.__class__.__name__}: {exc}"
                reachable = await self._reachable()
            finally:
                self._ws = None
            was_connected = self._connected.is_set()
            self._connected.clear()
            if self._closing():
                break  # a deliberate close (``close``) is not an outage
            if was_connected:
                self.registration.lost(reason)
                await self._lost()
                self._warn(reason)
            else:
                self._failed(reason, reachable)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.config.backoff_max)

    async def _connect(self) -> aiohttp.ClientWebSocketResponse:
        # the handshake has its own deadline: a switch that accepts the TCP connection
        # but never answers the upgrade must not hang us (the request timeout is longer
        # and is not what the events socket lives by)
        session = self._session()
        return await asyncio.wait_for(
            session.ws_connect(
                self.url(),
                heartbeat=20.0,
                max_msg_size=16 * 1024 * 1024,
                timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
            ),
            self._deadline(),
        )

    def _deadline(self) -> float:
        return min(UPGRADE_TIMEOUT_S, self.config.request_timeout)

    def _registered(self) -> None:
        reg = self.registration
        had_error = bool(self.last_error)
        down_for = reg.succeeded()
        self.last_error = ""
        if down_for is not None:
            logger.info(
                "ARI app %r registered again on %s after %.0fs",
                self.config.app,
                self.config.url,
                down_for,
            )
        elif had_error:
            logger.info("ARI events reconnected to %s", self.config.url)

    def replaced(self, reason: str) -> None:
        """The open websocket no longer carries the app's events (ApplicationReplaced): not
        registered from now on, until this stream connects again."""
        reg = self.registration
        reg.lost(reason)
        reg.switch_reachable = True
        self.last_error = reason
        logger.error("ARI app %r on %s: %s", self.config.app, self.config.url, reason)

    def _failed(self, reason: str, reachable: bool | None) -> None:
        reg = self.registration
        if reg.failed(reason, reachable):
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(reg.since or 0))
            logger.error(
                "ARI app %r is not registered on %s since %s (%d attempts): the switch "
                "answers REST but not the events websocket: %s. No call reaches this "
                "controller until it is; still retrying",
                self.config.app,
                self.config.url,
                since,
                reg.attempts,
                reason,
            )
        else:
            self._warn(reason)
        self.last_error = reason

    def _warn(self, reason: str) -> None:
        if reason != self.last_error:
            # one clear line per distinct failure, not a traceback per retry
            logger.warning(
                "ARI events at %s unavailable: %s; retrying with backoff",
                self.config.url,
                reason,
            )
        self.last_error = reason

    async def _reachable(self) -> bool:
        """Does the switch answer REST while the websocket fails?"""
        try:
            await asyncio.wait_for(self._ping(), PING_TIMEOUT_S)
        except asyncio.CancelledError:
            raise
        except Exception:  # any failure means "not reachable"
            return False
        return True

    async def close(self) -> None:
        """Close the open websocket with a close frame (and wait briefly for Asterisk's)."""
        ws = self._ws
        if ws is not None and not ws.closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(code=aiohttp.WSCloseCode.OK), 3.0)
