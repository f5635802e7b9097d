"""Selectors for the system status page (ADM-3): controllers' heartbeats from Redis and
calls from the database."""

from __future__ import annotations

import time
from typing import Any

import orjson
import redis
from django.conf import settings
from django.utils import timezone

from reports.models import Call

STATUS_PREFIX = "callctl:status:"


def controllers() -> tuple[list[dict[str, Any]], str]:
    """Heartbeats of running controllers, and an error text if Redis is unreachable."""
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1
        )
        keys = sorted(client.scan_iter(f"{STATUS_PREFIX}*"))
        raw = client.mget(keys) if keys else []
    except redis.RedisError as exc:
        return [], f"Redis unavailable: {exc}"
    out = []
    now = time.time()
    for value in raw:
        if not value:
            continue
        data = orjson.loads(value)
        data["age_s"] = round(now - float(data.get("heartbeat_at", 0)), 1)
        data["alive"] = data["age_s"] < 10
        out.append(data)
    return out, ""


def call_summary() -> dict[str, Any]:
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    live = Call.objects.filter(ended_at__isnull=True, started_at__gte=today)
    recent = Call.objects.select_related("agent").order_by("-started_at")[:20]
    return {
        "live_calls": live.count(),
        "calls_today": Call.objects.filter(started_at__gte=today).count(),
        "recent": [
            {
                "call_id": x.call_id,
                "caller": x.caller_number,
                "callee": x.callee_number,
                "region": x.caller_region,
                "agent": str(x.agent.extension) if x.agent else "",
                "started_at": timezone.localtime(x.started_at).strftime("%Y-%m-%d %H:%M:%S")
                if x.started_at
                else "",
                "duration": x.duration,
                "end_cause": x.end_cause,
                "live": x.ended_at is None,
            }
            for x in recent
        ],
    }
