"""ADM-3, SW-4: the status page says when a controller's ARI app is not registered, since
when and why — distinguishing a switch that answers REST but not the events websocket
from one that is gone — and says nothing once it is registered."""

from __future__ import annotations

import time

import orjson
import pytest
import redis
from django.urls import reverse

pytestmark = pytest.mark.django_db

SINCE = 1764669600.0  # 2025-12-02 10:00:00 UTC = 18:00:00 in Asia/Shanghai


def put_status(redis_url: str, registration: dict | None) -> None:  # type: ignore[type-arg]
    redis.Redis.from_url(redis_url).set(
        "callctl:status:controller-1",
        orjson.dumps(
            {
                "name": "controller-1",
                "switch": "asterisk",
                "version": "",
                "connected": False,
                "calls": 0,
                "heartbeat_at": time.time(),
                "app_registration": registration,
            }
        ),
    )


def reg(**kw: object) -> dict:  # type: ignore[type-arg]
    return {"app": "callcenter", "registered": False, "since": SINCE, "attempts": 3, **kw}


def test_reachable_switch_without_our_app(admin_client, redis_db, settings):
    settings.REDIS_URL = redis_db
    put_status(redis_db, reg(switch_reachable=True, reason="websocket upgrade not answered"))
    page = admin_client.get(reverse("status")).content.decode()
    assert (
        "交换机可以访问，但 ARI 应用“callcenter”自 2025-12-02 18:00:00 起未注册："
        "websocket upgrade not answered"
    ) in page
    en = admin_client.get(reverse("status-json"), HTTP_ACCEPT_LANGUAGE="en").json()
    assert en["controllers"][0]["alarm"] == (
        "switch reachable but ARI app “callcenter” not registered since 2025-12-02 18:00:00: "
        "websocket upgrade not answered"
    )


def test_unreachable_switch_says_not_registered_without_blaming_the_upgrade(
    admin_client, redis_db, settings
):
    settings.REDIS_URL = redis_db
    put_status(redis_db, reg(switch_reachable=False, reason="ClientConnectorError: refused"))
    en = admin_client.get(reverse("status-json"), HTTP_ACCEPT_LANGUAGE="en").json()
    assert en["controllers"][0]["alarm"] == (
        "ARI app “callcenter” not registered since 2025-12-02 18:00:00: "
        "ClientConnectorError: refused"
    )


@pytest.mark.parametrize(
    "registration", [None, {"app": "callcenter", "registered": True, "since": None}]
)
def test_no_alarm_when_registered_or_not_an_ari_switch(
    admin_client, redis_db, settings, registration
):
    settings.REDIS_URL = redis_db
    put_status(redis_db, registration)
    page = admin_client.get(reverse("status")).content.decode()
    assert "data-alarm" not in page.split("<script>")[0]
    assert admin_client.get(reverse("status-json")).json()["controllers"][0]["alarm"] == ""
