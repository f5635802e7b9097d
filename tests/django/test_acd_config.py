"""ACD configuration: validation, numbers, the snapshot and its publication (ACD-1..8, IVR-9).

Each bad input an admin can type gets its own message; numbers in any spelling are one
number; the controller's snapshot holds what was configured and is published only after
a commit.
"""

from __future__ import annotations

import orjson
import pytest
import redis
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import translation

from acd import services
from acd.choices import Strategy
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
    Team,
    VipNumber,
)
from acd.overflow import OverflowAction, OverflowCondition
from acd.selectors import config_snapshot
from acd.validation import normalize_number
from callcenter.core.models import Department
from provisioning.models import AccessNumber

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():  # type: ignore[no-untyped-def]
    with translation.override("en"):
        yield


@pytest.fixture
def org():  # type: ignore[no-untyped-def]
    return build_org()


def build_org():  # type: ignore[no-untyped-def]
    """客服中心 with a sub-department 售后部, and 销售部 beside them; one agent in each."""
    cs = Department.objects.create(name="客服中心", code="CS")
    after = Department.objects.create(name="售后部", code="CS-AS", parent=cs)
    sales = Department.objects.create(name="销售部", code="SALES")
    agents = {}
    for job, name, dept in (("1001", "张伟", cs), ("1002", "王芳", after), ("3001", "赵敏", sales)):
        team, _ = Team.objects.get_or_create(department=dept, name=f"{dept.name}一组")
        user = get_user_model().objects.create(username=f"agent{job}", first_name=name)
        agents[job] = AgentProfile.objects.create(
            user=user, job_number=job, extension=job, display_name=name, team=team
        )
    return {"cs": cs, "after": after, "sales": sales, "agents": agents}


def make_queue(name: str, dept: Department, **kw) -> Queue:  # type: ignore[no-untyped-def]
    q = Queue(name=name, department=dept, **kw)
    q.full_clean()
    q.save()
    return q


def errors_of(obj) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as exc:
        obj.full_clean()
    return exc.value.message_dict


# --- bad input: timeouts, strategies ------------------------------------------------


@pytest.mark.parametrize("field", ["ring_timeout", "max_wait", "announce_every"])
@pytest.mark.parametrize("value", [0, -5])
def test_zero_or_negative_times_are_refused_with_a_message(org, field, value):
    errors = errors_of(Queue(name="售前咨询", department=org["cs"], **{field: value}))
    assert errors[field] == ["Must be at least 1 second: zero or a negative time is not allowed."]


def test_wrap_up_may_be_zero_but_not_negative(org):
    make_queue("无话后处理", org["cs"], wrap_up_time=0)
    errors = errors_of(Queue(name="负数", department=org["cs"], wrap_up_time=-1))
    assert errors["wrap_up_time"] == ["The wrap-up time cannot be negative."]


def test_a_max_wait_shorter_than_the_ring_timeout_is_refused(org):
    errors = errors_of(Queue(name="售前咨询", department=org["cs"], ring_timeout=30, max_wait=10))
    assert "shorter than the ring timeout (30 s)" in errors["max_wait"][0]


def test_an_unknown_strategy_is_refused_by_the_model_and_by_the_database(org):
    errors = errors_of(Queue(name="售前咨询", department=org["cs"], strategy="fastest"))
    assert errors["strategy"] == [
        "Unknown strategy “fastest”: choose one of the strategies in the list."
    ]
    with pytest.raises(IntegrityError), transaction.atomic():
        Queue.objects.create(name="绕过", department=org["cs"], strategy="fastest")


def test_the_strategies_are_the_engines(org):
    from acd.engine import snapshots

    assert set(Strategy.values) == {s.value for s in snapshots.Strategy}
    assert set(OverflowCondition.values) == {t.value for t in snapshots.OverflowTrigger}
    assert set(OverflowAction.values) == {a.value for a in snapshots.OverflowAction}


# --- bad input: overflow ----------------------------------------------------------


def rule(queue: Queue, target: Queue | None = None, **kw) -> OverflowRule:  # type: ignore[no-untyped-def]
    kw.setdefault("condition", OverflowCondition.MAX_WAIT)
    kw.setdefault("action", OverflowAction.QUEUE if target else OverflowAction.VOICEMAIL)
    return OverflowRule(queue=queue, target_queue=target, **kw)


def test_an_overflow_loop_through_any_chain_is_refused_and_named(org):
    a, b, c = (make_queue(n, org["cs"]) for n in ("售前咨询", "售后服务", "投诉"))
    for src, dst in ((a, b), (b, c)):
        r = rule(src, dst)
        r.full_clean()
        r.save()
    errors = errors_of(rule(c, a, condition=OverflowCondition.NO_AGENTS))
    assert errors["target_queue"][0].startswith("Overflow loop: 投诉 → 售前咨询 → 售后服务 → 投诉.")
    assert (
        "售前咨询 → 售前咨询"
        in errors_of(rule(a, a, condition=OverflowCondition.NO_AGENTS))["target_queue"][0]
    )
    # two ways into the same queue are no loop: 售前咨询 -> 投诉 beside 售前咨询 -> 售后服务 -> 投诉
    rule(a, c, condition=OverflowCondition.NO_AGENTS).full_clean()


def test_overflow_actions_need_their_targets(org):
    a = make_queue("售前咨询", org["cs"])
    assert errors_of(rule(a, action=OverflowAction.QUEUE))["target_queue"] == [
        "Choose the queue to send callers to."
    ]
    assert errors_of(rule(a, action=OverflowAction.EXTERNAL))["external_number"] == [
        "Give the external number to send callers to."
    ]
    assert errors_of(rule(a, action=OverflowAction.EXTERNAL, external_number="12"))[
        "external_number"
    ] == ["“12” is not a phone number."]
    assert (
        "only follows “no answer” or “busy”"
        in errors_of(
            rule(a, condition=OverflowCondition.MAX_WAIT, action=OverflowAction.NEXT_AGENT)
        )["action"][0]
    )
    ok = rule(a, action=OverflowAction.EXTERNAL, external_number="139 0013 9000")
    ok.full_clean()
    assert ok.external_number == "+8613900139000"


# --- bad input: membership ---------------------------------------------------------


def test_an_agent_of_another_department_may_not_serve_the_queue(org):
    q = make_queue("售后服务", org["cs"])
    errors = errors_of(QueueMember(queue=q, agent=org["agents"]["3001"]))
    assert errors["agent"] == [
        "Agent 3001 赵敏 (3001) belongs to department 销售部 and may not serve queue 售后服务 "
        "of department 客服中心."
    ]
    QueueMember(queue=q, agent=org["agents"]["1001"]).full_clean()  # same department
    QueueMember(queue=q, agent=org["agents"]["1002"]).full_clean()  # a sub-department
    q.shared_with.add(org["sales"])
    QueueMember(queue=q, agent=org["agents"]["3001"]).full_clean()  # shared with sales


def test_an_agent_in_no_team_is_refused_with_what_to_do(org):
    q = make_queue("售后服务", org["cs"])
    agent = org["agents"]["1001"]
    agent.team = None
    agent.save()
    assert "put them in a team first" in errors_of(QueueMember(queue=q, agent=agent))["agent"][0]


# --- numbers and regions -------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["013800138000", "+86 138 0013 8000", "13800138000"])
def test_every_usual_spelling_is_one_e164_number(spelling):
    assert normalize_number(spelling) == "+8613800138000"


def test_a_vip_number_is_stored_once_whatever_its_spelling(org):
    vip = VipNumber(number="+86 138 0013 8000", name="王总")
    vip.full_clean()
    vip.save()
    assert VipNumber.objects.get().number == "+8613800138000"
    errors = errors_of(VipNumber(number="013800138000"))
    assert errors["number"] == ["VIP number with this Phone number already exists."]
    assert errors_of(VipNumber(number="not a number"))["number"] == [
        "“not a number” is not a phone number."
    ]


def test_region_rules_use_the_geocoders_names_and_one_target(org):
    team = org["agents"]["1001"].team
    r = RegionRule(province="广东", city="深圳", team=team)
    r.full_clean()
    assert (r.province, r.city) == ("广东省", "深圳市")
    assert (
        "Unknown province “火星”"
        in errors_of(RegionRule(province="火星", team=team))["province"][0]
    )
    both = RegionRule(province="北京", team=team, agent=org["agents"]["1001"])
    assert errors_of(both)["__all__"] == [
        "Choose either a team or an agent for this region, not both."
    ]


# --- the snapshot -----------------------------------------------------------------------


def full_config(org):  # type: ignore[no-untyped-def]
    a = make_queue("售前咨询", org["cs"], strategy=Strategy.SKILL_WEIGHTED, ring_timeout=15)
    b = make_queue("售后服务", org["cs"])
    QueueMember.objects.create(queue=a, agent=org["agents"]["1001"], tier=1)
    QueueMember.objects.create(queue=a, agent=org["agents"]["1002"], tier=2)
    skill = Skill.objects.create(name="普通话")
    QueueSkill.objects.create(queue=a, skill=skill, min_level=3)
    AgentSkill.objects.create(agent=org["agents"]["1001"], skill=skill, level=7)
    OverflowRule.objects.create(queue=a, condition="max_wait", action="queue", target_queue=b)
    number = AccessNumber.objects.create(number="4008001234", description="客服热线")
    AccessNumberRoute.objects.create(access_number=number, queue=a, strategy="ring_all", priority=5)
    VipNumber.objects.create(number="013800138000", name="王总")
    CustomerOwner.objects.create(number="13900139000", owner=org["agents"]["1001"])
    NamedNumberRule.objects.create(number="+86 137 0013 7000", agent=org["agents"]["1002"])
    RegionRule.objects.create(province="广东省", city="", agent=org["agents"]["1002"])
    return a, b


def test_the_snapshot_holds_what_was_configured(org):
    a, b = full_config(org)
    snap = orjson.loads(orjson.dumps(config_snapshot()))  # plain JSON
    queue = next(q for q in snap["queues"] if q["id"] == a.pk)
    assert queue["name"] == "售前咨询" and queue["strategy"] == "skill_weighted"
    assert queue["ring_timeout"] == 15 and queue["wrap_up_time"] == 30
    assert [m["agent_id"] for m in queue["members"]] == [
        org["agents"]["1001"].pk,
        org["agents"]["1002"].pk,
    ]
    assert queue["skills"] == {"普通话": 3}
    assert queue["overflow"] == [
        {
            "condition": "max_wait",
            "action": "queue",
            "after_failures": 1,
            "target_queue_id": b.pk,
            "external_number": "",
        }
    ]
    agent = next(x for x in snap["agents"] if x["job_number"] == "1001")
    assert agent["skills"] == {"普通话": 7} and agent["name"] == "张伟"
    assert snap["access_numbers"] == [
        {
            "number": "4008001234",
            "enabled": True,
            "queue_id": a.pk,
            "strategy": "ring_all",
            "priority": 5,
        }
    ]
    assert snap["vip_numbers"] == ["+8613800138000"]
    assert snap["owners"] == {"+8613900139000": org["agents"]["1001"].pk}
    assert snap["named_numbers"] == {"+8613700137000": org["agents"]["1002"].pk}
    assert snap["region_rules"][0]["province"] == "广东省"
    reasons = {r["code"]: (r["name"], r["name_en"]) for r in snap["not_ready_reasons"]}
    assert reasons["break"] == ("小休", "Break")  # seeded by the data migration


def test_the_not_ready_reasons_are_seeded_in_chinese_and_english():
    names = dict(NotReadyReason.objects.values_list("code", "name"))
    assert names == {
        "busy": "示忙",
        "break": "小休",
        "meal": "用餐",
        "meeting": "会议",
        "training": "培训",
    }


# --- publication ------------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_config_is_published_after_commit_and_never_for_a_rollback(org, redis_db, settings):
    settings.REDIS_URL = redis_db
    r = redis.Redis.from_url(redis_db)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.save_config(Queue(name="回滚", department=org["cs"]))
        raise RuntimeError("the admin's request failed")
    assert r.get(services.CONFIG_KEY) is None and r.xlen(services.CHANGES_STREAM) == 0

    queue = services.save_config(Queue(name="售前咨询", department=org["cs"]))
    first = services.published_config(r)
    assert first is not None and first["version"] == 1
    assert [q["name"] for q in first["queues"]] == ["售前咨询"]

    queue.ring_timeout = 25
    services.save_config(queue)
    second = services.published_config(r)
    assert second["version"] == 2 and second["queues"][0]["ring_timeout"] == 25
    notices = r.xrange(services.CHANGES_STREAM)
    assert [n[1][b"version"] for n in notices] == [b"1", b"2"]


def test_invalid_input_through_the_service_writes_and_publishes_nothing(org, monkeypatch):
    published = []
    monkeypatch.setattr(services, "publish_config", lambda reason: published.append(reason))
    with pytest.raises(ValidationError):
        services.save_config(Queue(name="售前咨询", department=org["cs"], ring_timeout=0))
    assert not Queue.objects.exists() and published == []


def test_a_redis_that_is_away_does_not_fail_the_save(org, settings, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    assert services.publish_config("test") is None
    assert "ACD configuration not published" in caplog.text


@pytest.mark.redis
def test_publish_acd_config_pushes_by_hand(org, redis_db, settings, capsys):
    settings.REDIS_URL = redis_db
    make_queue("售前咨询", org["cs"])
    call_command("publish_acd_config")
    assert "version 1" in capsys.readouterr().out
    snap = services.published_config(redis.Redis.from_url(redis_db))
    assert snap["queues"][0]["name"] == "售前咨询"


def test_only_users_allowed_to_change_queues_may_save_one(org):
    from django.core.exceptions import PermissionDenied

    agent_user = org["agents"]["1001"].user
    with pytest.raises(PermissionDenied):
        services.save_config(Queue(name="售前咨询", department=org["cs"]), by=agent_user)
    assert not Queue.objects.exists()
