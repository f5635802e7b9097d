"""Writes of the ACD configuration and its publication to the controller (ACD-1..8).

"The controller learns of configuration changes without a restart": every write of the
configuration ends with ``config_changed``, which after the transaction commits (never
for one that rolls back) publishes the whole snapshot (``acd.selectors.config_snapshot``):

- ``acd:config``: the snapshot as JSON, with its ``version``;
- ``acd:config:version``: the version counter (INCR), so versions only grow;
- ``acd:config:changes``: a stream with one notice per publication (``version``,
  ``reason``, ``at``), trimmed to about ``CHANGES_MAXLEN`` entries.

A reader reloads ``acd:config`` on a notice (or at start) and ignores a version it has.
Publications are serialized by a Redis lock, so each one reads the database after the
previous one wrote Redis: a later version never holds older data. A Redis that is down
loses nothing lasting: the database is the truth, and the next change (or
``manage.py publish_acd_config``) publishes it again.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
import redis
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import models, transaction

from .selectors import config_snapshot

logger = logging.getLogger(__name__)

CONFIG_KEY = "acd:config"
VERSION_KEY = "acd:config:version"
CHANGES_STREAM = "acd:config:changes"
LOCK_KEY = "acd:config:lock"
CHANGES_MAXLEN = 1000


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2)


def config_changed(reason: str) -> None:
    """Publish the configuration once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: publish_config(reason))


def publish_config(reason: str, client: redis.Redis | None = None) -> int | None:
    """Write the snapshot and a change notice to Redis; the new version, None if Redis is away.

    The database change is already committed, so a Redis failure is logged, not raised."""
    client = client or redis_client()
    try:
        with client.lock(LOCK_KEY, timeout=30, blocking_timeout=10):
            snapshot = config_snapshot()
            version = int(client.incr(VERSION_KEY))
            snapshot["version"] = version
            pipe = client.pipeline(transaction=True)
            pipe.set(CONFIG_KEY, orjson.dumps(snapshot))
            pipe.xadd(
                CHANGES_STREAM,
                {"version": version, "reason": reason[:200], "at": f"{time.time():.3f}"},
                maxlen=CHANGES_MAXLEN,
                approximate=True,
            )
            pipe.execute()
    except redis.RedisError as exc:
        logger.error("ACD configuration not published (%s): %s", reason, exc)
        return None
    logger.info("ACD configuration version %s published (%s)", version, reason)
    return version


def published_config(client: redis.Redis | None = None) -> dict[str, Any] | None:
    """The snapshot last published, as the controller will read it (None if none yet)."""
    raw = (client or redis_client()).get(CONFIG_KEY)
    return orjson.loads(raw) if raw else None


def save_config(obj: models.Model, *, by: Any = None) -> models.Model:
    """Validate and save one configuration row, then publish after commit.

    ``by`` is the user acting (None: the system, e.g. ``seed_demo``); they need the
    model's add or change permission. Invalid input raises ``ValidationError`` with
    the model's own messages, and nothing is written."""
    opts = obj._meta
    if by is not None:
        action = "change" if obj.pk else "add"
        if not by.has_perm(f"{opts.app_label}.{action}_{opts.model_name}"):
            raise PermissionDenied
    with transaction.atomic():
        obj.full_clean()
        obj.save()
        config_changed(f"{opts.model_name} {obj.pk} saved")
    return obj
