"""The web's one way to send a contract command (DESIGN.md "Talking between processes"):
after commit, to the stream of the controller that holds the leg, else the shared one."""

from __future__ import annotations

import pytest
import redis
from django.db import transaction

from callcenter.core.services import publish_command
from switch_control import contract as c
from switch_control.bus import COMMANDS_STREAM
from switch_control.bus.redis_streams import FIELD
from switch_control.livestate import command_stream, leg_owner_key

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def sent(r: redis.Redis, stream: str) -> list[c.Message]:
    return [c.decode(fields[FIELD]) for _, fields in r.xrange(stream)]


def test_a_leg_command_goes_to_its_controller_after_commit(redis_db):
    r = redis.Redis.from_url(redis_db)
    r.set(leg_owner_key("leg-1"), "controller-2")
    hold = c.Hold(leg_id="leg-1")
    with transaction.atomic():
        publish_command(hold, client=r)
        assert not r.exists(command_stream("controller-2")), "not before the commit"
    assert [m.id for m in sent(r, command_stream("controller-2"))] == [hold.id]
    assert sent(r, COMMANDS_STREAM) == []


def test_an_unclaimed_leg_goes_to_the_shared_stream_and_a_rollback_sends_nothing(redis_db):
    r = redis.Redis.from_url(redis_db)
    answer = c.AnswerCall(leg_id="nobody-holds-me")
    publish_command(answer, client=r)  # autocommit: at once
    assert [m.id for m in sent(r, COMMANDS_STREAM)] == [answer.id]

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        publish_command(c.Hangup(leg_id="nobody-holds-me"), client=r)
        raise Boom
    assert len(sent(r, COMMANDS_STREAM)) == 1
