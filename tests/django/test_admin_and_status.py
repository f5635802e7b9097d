"""Admin for every model, roles, demo data and the status page's permissions (ADM-1, ADM-3)."""

from __future__ import annotations

import orjson
import pytest
import redis
from django.apps import apps
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

from acd.models import AgentProfile
from callcenter.core.roles import Role
from reports.projector import project
from tests.django.test_projector import call_events

pytestmark = pytest.mark.django_db

OUR_APPS = ("core", "acd", "reports")


@pytest.fixture
def demo(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "admin-pass-123")
    monkeypatch.setenv("DEMO_AGENT_PASSWORD", "agent-pass-123")
    call_command("seed_demo")


def test_every_model_of_ours_is_in_admin_and_its_pages_render(client, demo):
    assert client.login(username="admin", password="admin-pass-123")
    for e in call_events():
        project(e)
    for model in apps.get_models():
        if model._meta.app_label not in OUR_APPS or model.__name__ == "ProcessedEvent":
            continue
        assert model in admin.site._registry, f"{model.__name__} has no admin"
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        resp = client.get(url, {"q": "1001"})
        assert resp.status_code == 200, url
        resp = client.get(url)
        assert resp.status_code == 200


def test_demo_data_has_roles_agents_with_job_numbers_and_extensions(demo):
    from django.contrib.auth.models import Group

    assert {r.value for r in Role} <= set(Group.objects.values_list("name", flat=True))
    a = AgentProfile.objects.get(job_number="1001")
    assert a.extension == "1001" and a.team is not None
    assert a.user.groups.filter(name=Role.AGENT.value).exists()
    assert a.user.check_password("agent-pass-123")


def test_status_page_is_for_admins_and_supervisors_only(client, demo):
    url = reverse("status")
    assert client.get(url).status_code == 302  # login first
    assert client.login(username="agent1001", password="agent-pass-123")
    assert client.get(url).status_code == 403
    assert client.get(reverse("status-json")).status_code == 403
    client.logout()
    assert client.login(username="agent9001", password="agent-pass-123")  # supervisor
    assert client.get(url).status_code == 200


def test_status_shows_the_controllers_heartbeat(client, demo, redis_db, settings):
    settings.REDIS_URL = redis_db
    import time

    redis.Redis.from_url(redis_db).set(
        "callctl:status:controller-1",
        orjson.dumps(
            {
                "name": "controller-1",
                "switch": "asterisk",
                "version": "22.10.1",
                "connected": True,
                "calls": 3,
                "heartbeat_at": time.time(),
            }
        ),
    )
    assert client.login(username="admin", password="admin-pass-123")
    page = client.get(reverse("status")).content.decode()
    assert "已连接到 Asterisk 22.10.1" in page
    assert "3 路通话" in page
    data = client.get(reverse("status-json")).json()
    assert data["controllers"][0]["alive"] is True


def test_status_says_so_when_redis_is_down(client, demo, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    assert client.login(username="admin", password="admin-pass-123")
    page = client.get(reverse("status")).content.decode()
    assert "Redis unavailable" in page
