"""The ACD runtime of a controller (issue 13 Parts 3 and 4; ACD-1, ACD-2, ACD-5 … ACD-8).

Django-free (import-linter): it reads the configuration the web published to Redis
(``acd:config``), keeps agents and waiting callers in the shared live store
(``acd.live``), asks the pure engine (``acd.engine``) who gets a call, and drives the
switch through the controller. ``attach(controller)`` composes it into a controller:

- ``LoginAgent`` / ``LogoutAgent`` / ``SetAgentState`` → ``agents.py``;
- inbound calls whose access number routes to a queue → ``calls.py`` / ``offers.py``;
- durable timers ``acd.ring``, ``acd.max_wait``, ``acd.wrap_up``;
- the configuration watcher (a supervised service of the controller).

Roles (STYLE.md "Feature packages in the controller"): ``config.py`` the snapshot →
engine views, ``agents.py`` the command handlers, ``calls.py`` the event reactions,
``offers.py`` dispatching and overflow, ``runtime.py`` the composition.
"""

from __future__ import annotations

from acd.live import LiveStore
from switch_control.daemon import Controller

from .config import AcdConfig, QueueConfig, load_config, parse_config
from .runtime import AcdRuntime, RuntimeSettings


def attach(
    controller: Controller,
    *,
    settings: RuntimeSettings | None = None,
    store: LiveStore | None = None,
) -> AcdRuntime:
    """Compose the ACD runtime into ``controller`` (before ``controller.run()``)."""
    return AcdRuntime(controller, store, settings=settings).attach()


__all__ = [
    "AcdConfig",
    "AcdRuntime",
    "QueueConfig",
    "RuntimeSettings",
    "attach",
    "load_config",
    "parse_config",
]
