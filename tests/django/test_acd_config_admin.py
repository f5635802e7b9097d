"""ACD configuration in the admin (ADM-1, ACD-1..8): pages in zh-Hans and English, every
bad input shown with its message, saves published to the controller; demo data.
"""

from __future__ import annotations

import pytest
import redis
from django.core.management import call_command
from django.urls import reverse

from acd import services
from acd.models import (
    AccessNumberRoute,
    AgentProfile,
    AgentSkill,
    CustomerOwner,
    NamedNumberRule,
    NotReadyReason,
    OverflowRule,
    Queue,
    QueueMember,
    QueueSkill,
    RegionRule,
    Skill,
    VipNumber,
)
from acd.selectors import config_snapshot
from callcenter.core.models import Department
from tests.django.test_acd_config import build_org, full_config, make_queue

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():  # type: ignore[no-untyped-def]
    return build_org()


# --- the admin --------------------------------------------------------------------------

ADMIN_MODELS = (
    Queue,
    QueueMember,
    QueueSkill,
    OverflowRule,
    AgentSkill,
    Skill,
    AccessNumberRoute,
    VipNumber,
    CustomerOwner,
    NamedNumberRule,
    RegionRule,
    NotReadyReason,
    AgentProfile,
)


def admin_url(model, view: str = "changelist", *args) -> str:  # type: ignore[no-untyped-def]
    return reverse(f"admin:acd_{model._meta.model_name}_{view}", args=args)


def queue_form(dept: Department, **fields) -> dict[str, object]:  # type: ignore[no-untyped-def]
    data: dict[str, object] = {
        "name": "售前咨询",
        "department": dept.pk,
        "strategy": "longest_idle",
        "priority": 0,
        "ring_timeout": 20,
        "wrap_up_time": 30,
        "owner_wait": 30,
        "last_agent_wait": 0,
        "max_wait": 300,
        "moh_class": "default",
        "announce_position": "on",
        "announce_wait_time": "on",
        "announce_every": 60,
        "callback_key": "1",
        "enabled": "on",
    }
    for prefix in ("members", "skills", "overflow_rules"):
        data.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0})
        data.update({f"{prefix}-MIN_NUM_FORMS": 0, f"{prefix}-MAX_NUM_FORMS": 1000})
    data.update(fields)
    return data


def test_admin_pages_render_with_chinese_names_in_both_languages(admin_client, org):
    full_config(org)
    for model in ADMIN_MODELS:
        for view in ("changelist", "add"):
            resp = admin_client.get(admin_url(model, view), HTTP_ACCEPT_LANGUAGE="en")
            assert resp.status_code == 200, (model.__name__, view)
    page = admin_client.get(admin_url(Queue), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "售前咨询" in page and "Select queue to change" in page
    zh = admin_client.get(admin_url(Queue), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "选择 队列 来修改" in zh and "最长空闲" in zh  # the strategy filter, translated
    assert (
        "售前咨询"
        in admin_client.get(admin_url(Queue, "change", Queue.objects.first().pk)).content.decode()
    )


def test_admin_search_finds_a_number_in_another_spelling(admin_client, org):
    VipNumber.objects.create(number="13800138000", name="王总")
    page = admin_client.get(admin_url(VipNumber), {"q": "013800138000"}).content.decode()
    assert "王总" in page


def test_admin_refuses_an_unknown_strategy_with_its_message(admin_client, org):
    resp = admin_client.post(
        admin_url(Queue, "add"),
        queue_form(org["cs"], strategy="fastest"),
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert resp.status_code == 200 and not Queue.objects.exists()
    assert "Unknown strategy “fastest”" in resp.content.decode()


def test_admin_refuses_a_zero_ring_timeout_in_chinese(admin_client, org):
    resp = admin_client.post(
        admin_url(Queue, "add"),
        queue_form(org["cs"], ring_timeout=0),
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert resp.status_code == 200 and not Queue.objects.exists()
    assert "至少为 1 秒" in resp.content.decode()


def test_admin_saves_a_queue_without_members_but_warns(admin_client, org):
    resp = admin_client.post(
        admin_url(Queue, "add"), queue_form(org["cs"]), HTTP_ACCEPT_LANGUAGE="en", follow=True
    )
    assert Queue.objects.filter(name="售前咨询").exists()
    assert "Queue 售前咨询 has no members yet" in resp.content.decode()


def test_admin_shows_the_overflow_loop_and_saves_nothing(admin_client, org):
    a = make_queue("售前咨询", org["cs"])
    b = make_queue("售后服务", org["cs"])
    OverflowRule.objects.create(queue=a, condition="max_wait", action="queue", target_queue=b)
    data = queue_form(
        org["cs"],
        name="售后服务",
        **{
            "overflow_rules-TOTAL_FORMS": 1,
            "overflow_rules-0-condition": "no_agents",
            "overflow_rules-0-after_failures": 1,
            "overflow_rules-0-action": "queue",
            "overflow_rules-0-target_queue": a.pk,
        },
    )
    resp = admin_client.post(admin_url(Queue, "change", b.pk), data, HTTP_ACCEPT_LANGUAGE="en")
    assert resp.status_code == 200
    assert "Overflow loop: 售后服务 → 售前咨询 → 售后服务." in resp.content.decode()
    assert not OverflowRule.objects.filter(queue=b).exists()


def test_admin_refuses_a_member_from_another_department(admin_client, org):
    q = make_queue("售后服务", org["cs"])
    data = queue_form(
        org["cs"],
        name="售后服务",
        **{
            "members-TOTAL_FORMS": 1,
            "members-0-agent": org["agents"]["3001"].pk,
            "members-0-tier": 1,
            "members-0-position": 0,
            "members-0-self_sign_in": "on",
        },
    )
    resp = admin_client.post(admin_url(Queue, "change", q.pk), data, HTTP_ACCEPT_LANGUAGE="en")
    assert "belongs to department 销售部 and may not serve queue 售后服务" in resp.content.decode()
    assert not QueueMember.objects.exists()


@pytest.mark.redis
def test_an_admin_save_publishes_the_new_configuration(
    admin_client, org, redis_db, settings, django_capture_on_commit_callbacks
):
    settings.REDIS_URL = redis_db
    q = make_queue("售前咨询", org["cs"])
    data = queue_form(
        org["cs"],
        ring_timeout=12,
        **{
            "members-TOTAL_FORMS": 1,
            "members-0-agent": org["agents"]["1001"].pk,
            "members-0-tier": 1,
            "members-0-position": 0,
        },
    )
    with django_capture_on_commit_callbacks(execute=True):
        resp = admin_client.post(admin_url(Queue, "change", q.pk), data)
    assert resp.status_code == 302
    snap = services.published_config(redis.Redis.from_url(redis_db))
    assert snap["queues"][0]["ring_timeout"] == 12
    assert snap["queues"][0]["members"][0]["agent_id"] == org["agents"]["1001"].pk
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(admin_url(Queue, "delete", q.pk), {"post": "yes"})
    assert services.published_config(redis.Redis.from_url(redis_db))["queues"] == []


@pytest.mark.redis
def test_disabling_an_access_number_in_the_admin_publishes_it(
    admin_client, org, redis_db, settings, django_capture_on_commit_callbacks
):
    """The access number's own admin (provisioning) publishes too: a number switched off
    there reaches the controller's routing without a restart (ACD-1, IVR-2)."""
    from provisioning.models import AccessNumber

    settings.REDIS_URL = redis_db
    number = AccessNumber.objects.create(number="4008001234", description="客服热线")
    with django_capture_on_commit_callbacks(execute=True):
        resp = admin_client.post(
            reverse("admin:provisioning_accessnumber_change", args=[number.pk]),
            {"number": "4008001234", "description": "客服热线", "enabled": ""},
        )
    assert resp.status_code == 302, resp.content.decode()[:2000]
    snap = services.published_config(redis.Redis.from_url(redis_db))
    assert [(n["number"], n["enabled"]) for n in snap["access_numbers"]] == [("4008001234", False)]


# --- demo data ----------------------------------------------------------------------------


def test_seed_demo_adds_queues_members_vip_and_reasons_and_is_idempotent(monkeypatch):
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "admin-pass-123")
    monkeypatch.setenv("DEMO_AGENT_PASSWORD", "agent-pass-123")
    call_command("seed_demo")
    call_command("seed_demo")
    members = {
        q.name: [m.agent.job_number for m in q.members.order_by("tier")]
        for q in Queue.objects.all()
    }
    assert members == {"售前咨询": ["1001", "1002"], "售后服务": ["1002", "1003"]}
    assert OverflowRule.objects.count() == 4
    assert list(VipNumber.objects.values_list("number", flat=True)) == ["+8613900139000"]
    assert NotReadyReason.objects.count() == 5
    snap = config_snapshot()
    presales = next(q for q in snap["queues"] if q["name"] == "售前咨询")
    aftersales = next(q for q in snap["queues"] if q["name"] == "售后服务")
    assert {
        "condition": "max_wait",
        "action": "queue",
        "after_failures": 1,
        "target_queue_id": aftersales["id"],
        "external_number": "",
    } in presales["overflow"]
