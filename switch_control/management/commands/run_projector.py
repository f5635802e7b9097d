"""``manage.py run_projector``: ``callctl:events`` -> CDR rows, idempotently (RPT-1)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import InterfaceError, OperationalError, connection
from redis.exceptions import RedisError

from reports.projector import PROJECTED, project, project_many, prune_processed
from switch_control import contract as c
from switch_control.bus import EVENTS_STREAM, Consumer
from switch_control.runtime import lower_priority, run_daemon
from switch_control.wiring import make_bus, redis_client


def _usable_connection() -> None:
    """Drop the DB connection only if it broke: reopening it for every batch (what
    ``close_old_connections`` does with CONN_MAX_AGE=0) cost the projector ~10 % CPU."""
    if connection.connection is not None and connection.errors_occurred:
        if connection.is_usable():
            connection.errors_occurred = False
        else:
            connection.close()


def _prune(keep: timedelta) -> int:
    _usable_connection()
    return prune_processed(keep)


def _project(event: c.Event) -> bool:
    _usable_connection()
    return project(event)


def _project_many(events: list[c.Message]) -> int:
    _usable_connection()
    return project_many([e for e in events if isinstance(e, c.Event)])


class Command(BaseCommand):
    help = "Project call events from Redis into CDR rows (Call, CallLeg)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--name", default="projector-1")

    def handle(self, *args, **opts):  # type: ignore[no-untyped-def]
        lower_priority(settings.PROJECTOR_NICE)
        run_daemon(lambda: self._main(opts["name"]))

    async def _main(self, name: str) -> None:
        client = redis_client()
        project_async = sync_to_async(_project, thread_sensitive=True)
        project_many_async = sync_to_async(_project_many, thread_sensitive=True)

        async def batch_handler(messages: list[c.Message]) -> None:
            await project_many_async(messages)

        async def handler(message: c.Message, in_flight: bool) -> None:
            assert isinstance(message, c.Event)
            await project_async(message)

        consumer = Consumer(
            make_bus(client),
            stream=EVENTS_STREAM,
            group="projector",
            name=name,
            handler=handler,
            kind=c.Event,
            transient=(OperationalError, InterfaceError, RedisError),
            batch_handler=batch_handler,
            batch=settings.PROJECTOR_BATCH,
            linger_s=settings.PROJECTOR_LINGER_MS / 1000,  # CDRs trail calls by this much
            types=frozenset(t.TYPE for t in PROJECTED),  # the rest is not read
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, consumer.stop)
        pruner = asyncio.create_task(self._prune_forever())
        warned = ""
        try:
            while True:
                try:
                    await consumer.run()
                    break
                except RedisError as exc:
                    if str(exc) != warned:  # one line per outage, not one per retry
                        self.stderr.write(f"projector: Redis unavailable ({exc}); retrying\n")
                        warned = str(exc)
                    await asyncio.sleep(1)
        finally:
            pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pruner
            await client.aclose()

    async def _prune_forever(self) -> None:
        """Hourly: drop idempotency keys older than PROJECTOR_DEDUP_DAYS (the table would
        otherwise grow by every event ever projected)."""
        keep = timedelta(days=settings.PROJECTOR_DEDUP_DAYS)
        prune = sync_to_async(_prune, thread_sensitive=True)
        while True:
            try:
                await prune(keep)
            except (OperationalError, InterfaceError) as exc:
                self.stderr.write(f"projector: pruning processed event ids failed ({exc})\n")
            await asyncio.sleep(3600)
