"""ADM-3 in a real browser (Debian's Chromium, in Chinese): an admin sees the controller
connected to the switch and calls appear on the status page live, without reloading."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson
import pytest
import redis
from asgiref.sync import sync_to_async
from django.conf import settings

from reports.models import Call
from tests.browser.cdp import Browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def heartbeat(url: str, calls: int) -> None:
    redis.Redis.from_url(url).set(
        "callctl:status:controller-1",
        orjson.dumps(
            {
                "name": "controller-1",
                "switch": "asterisk",
                "version": "22.10.1",
                "connected": True,
                "calls": calls,
                "heartbeat_at": time.time(),
            }
        ),
    )


async def test_status_page_updates_live(live_server, redis_db, admin_user, client, tmp_path):
    settings.REDIS_URL = redis_db
    heartbeat(redis_db, 0)
    await sync_to_async(client.force_login)(admin_user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    browser = await Browser().start()
    try:
        await browser.set_cookie(live_server.url, settings.SESSION_COOKIE_NAME, session)
        await browser.goto(f"{live_server.url}/status/")
        text = await browser.wait_for("document.querySelector('[data-controller]')?.textContent")
        assert "已连接到 Asterisk 22.10.1" in text and "0 路通话" in text

        # a call comes in: the page shows it within a refresh, no reload
        await sync_to_async(Call.objects.create)(
            call_id="live-1",
            caller_number="13800138000",
            callee_number="4008001234",
            caller_region="北京市",
            started_at=datetime.now(UTC),
        )
        heartbeat(redis_db, 1)
        await browser.wait_for("document.body.innerText.includes('13800138000')")
        await browser.wait_for(
            "document.querySelector('[data-controller]').textContent.includes('1 路通话')"
        )
        assert await browser.eval("document.getElementById('live').textContent") == "1"
        assert await browser.eval("document.body.innerText.includes('北京市')")
        await browser.screenshot(tmp_path / "status.png")
        assert (tmp_path / "status.png").stat().st_size > 1000
    finally:
        await browser.close()
