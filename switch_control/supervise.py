"""Supervised asyncio tasks: a task that crashes is logged and restarted with backoff;
the process never dies from one bad task (DESIGN.md, controller)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


async def supervise(
    name: str,
    factory: Callable[[], Awaitable[None]],
    *,
    backoff_initial: float = 0.5,
    backoff_max: float = 30.0,
    stop: asyncio.Event | None = None,
    quiet: tuple[type[BaseException], ...] = (),
) -> None:
    """Run ``factory()`` until ``stop``; restart it when it returns or raises. Exceptions in
    ``quiet`` (an unreachable Redis…) are expected outages: one warning line per distinct
    message, no traceback, then retries with backoff."""
    backoff = backoff_initial
    last_quiet = ""
    while stop is None or not stop.is_set():
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await factory()
            if stop is None or stop.is_set():
                return
            logger.warning("task %s returned; restarting", name)
        except asyncio.CancelledError:
            raise
        except quiet as exc:
            text = f"{exc.__class__.__name__}: {exc}"
            if text != last_quiet:
                logger.warning("task %s waiting: %s; retrying", name, text)
            last_quiet = text
        except Exception:
            logger.exception("task %s crashed; restarting in %.1fs", name, backoff)
        if loop.time() - started > 60:
            backoff = backoff_initial
        if stop is None:
            await asyncio.sleep(backoff)
        else:  # a stop request must not wait out the backoff
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
        backoff = min(backoff * 2, backoff_max)
