"""e2e helpers: read the event stream, run the real projector against the test database."""

from __future__ import annotations

import asyncio

import redis

from switch_control import contract as c


def stream_events(redis_url: str, stream: str = "callctl:events") -> list[c.Event]:
    client = redis.Redis.from_url(redis_url)
    out = []
    for _id, fields in client.xrange(stream):
        msg = c.decode(fields[b"m"])
        assert isinstance(msg, c.Event)
        out.append(msg)
    return out


def run_projector_until_idle(redis_url: str, timeout: float = 10.0) -> int:
    """Run the real projector consumer (``callctl:events``, group projector) until the
    stream has no pending entries for it; return the number of events handled."""
    from asgiref.sync import sync_to_async

    from reports.projector import project, project_many
    from switch_control.bus import EVENTS_STREAM, Consumer, RedisBus

    async def main() -> int:
        bus = RedisBus.from_url(redis_url)
        project_async = sync_to_async(project, thread_sensitive=True)
        project_many_async = sync_to_async(project_many, thread_sensitive=True)

        async def batch(messages: list[c.Message]) -> None:
            await project_many_async([m for m in messages if isinstance(m, c.Event)])

        async def handler(message: c.Message, in_flight: bool) -> None:
            assert isinstance(message, c.Event)
            await project_async(message)

        consumer = Consumer(
            bus,
            stream=EVENTS_STREAM,
            group="projector",
            name="test-projector",
            handler=handler,
            kind=c.Event,
            block_ms=100,
            batch_handler=batch,
            batch=500,
        )
        task = asyncio.create_task(consumer.run())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while loop.time() < deadline:
                await asyncio.sleep(0.1)
                length = await bus.length(EVENTS_STREAM)
                done = consumer.stats.handled + consumer.stats.dead_lettered
                if done >= length and await bus.pending_count(EVENTS_STREAM, "projector") == 0:
                    break
        finally:
            consumer.stop()
            await asyncio.wait_for(task, 5)
            await bus.close()
        return consumer.stats.handled

    return asyncio.run(main())
