"""Builds drivers and the bus from Django settings (used by the management commands)."""

from __future__ import annotations

import redis.asyncio as aioredis
from django.conf import settings

from .bus import RedisBus
from .callcontrol import CallControl
from .daemon import Controller, ControllerConfig
from .engine.policy import PolicyConfig


def make_driver(kind: str | None = None) -> CallControl:
    kind = kind or settings.SWITCH_KIND
    if kind == "asterisk":
        from .drivers.asterisk import AsteriskDriver
        from .protocols.ari import AriClient, AriConfig

        if not settings.ARI_PASSWORD:
            raise SystemExit("ARI_PASSWORD is not set: the controller cannot log in to ARI")
        ari = AriClient(
            AriConfig(
                settings.ARI_URL,
                settings.ARI_USER,
                settings.ARI_PASSWORD,
                app=settings.ARI_APP,
                subscribe_all=False,  # see drivers/asterisk/driver.py
                max_connections=settings.ARI_MAX_CONNECTIONS,
            )
        )
        ami = None
        if settings.AMI_PASSWORD:
            from .protocols.ami import AmiClient, AmiConfig

            ami = AmiClient(
                AmiConfig(
                    settings.AMI_HOST, settings.AMI_PORT, settings.AMI_USER, settings.AMI_PASSWORD
                )
            )
        return AsteriskDriver(ari, ami=ami)
    if kind == "freeswitch":
        return _freeswitch_driver()
    if kind == "fake":
        from .drivers.fake import FakeDriver

        return FakeDriver()
    raise SystemExit(f"SWITCH_KIND={kind!r} is not supported (asterisk, freeswitch, fake)")


def _freeswitch_driver() -> CallControl:
    from .drivers.freeswitch import FreeSwitchConfig, FreeSwitchDriver, MediaConfig
    from .protocols.esl import EslClient

    if not settings.ESL_PASSWORD:
        raise SystemExit(
            "ESL_PASSWORD is not set: the controller cannot log in to FreeSWITCH's event socket"
        )
    esl = EslClient(settings.ESL_HOST, settings.ESL_PORT, settings.ESL_PASSWORD)
    media = MediaConfig(
        sounds_dir=settings.FS_SOUNDS_DIR,
        recordings_dir=settings.FS_RECORDINGS_DIR,
        say_language=settings.FS_SAY_LANGUAGE,
    )
    config = FreeSwitchConfig(
        gateway_dial=f"sofia/gateway/{settings.FS_GATEWAY}/{{number}}", media=media
    )
    return FreeSwitchDriver(esl, config)


# connections to Redis one process may hold: beyond, a request waits for a free one
# (redis-py's default pool raises "Too many connections" instead: with commands of many
# calls running at once, each with its ledger writes, 100 were not enough)
REDIS_MAX_CONNECTIONS = 64
REDIS_POOL_TIMEOUT_S = 10


def redis_client() -> aioredis.Redis:
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.REDIS_URL,
        decode_responses=False,
        max_connections=REDIS_MAX_CONNECTIONS,
        timeout=REDIS_POOL_TIMEOUT_S,
    )
    return aioredis.Redis.from_pool(pool)  # (closing the client closes the pool)


def make_bus(client: aioredis.Redis) -> RedisBus:
    return RedisBus(client)


def controller_config() -> ControllerConfig:
    welcome = tuple(x for x in settings.WELCOME_PROMPT.split(",") if x)
    return ControllerConfig(
        name=settings.CONTROLLER_NAME,
        policy=PolicyConfig(welcome=welcome, agents=tuple(settings.DEFAULT_AGENT_EXTENSIONS)),
        publish_linger_s=settings.PUBLISH_LINGER_MS / 1000,
    )


def attach_features(controller: Controller) -> None:
    """Compose the controller's features into it (before ``run``): the ACD runtime
    (issue 13: agent commands, queue routes, its timers and its configuration watcher).
    An access number not routed to a queue keeps the fixed list as before."""
    from acd.runtime import attach

    attach(controller)
