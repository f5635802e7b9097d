"""The UI speaks zh-Hans (the default) and English (chosen by the browser)."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_status_page_in_chinese_by_default_and_english_on_request(admin_client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    zh = admin_client.get(reverse("status"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "系统状态" in zh and "当前通话" in zh
    en = admin_client.get(reverse("status"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "System status" in en and "Live calls" in en
