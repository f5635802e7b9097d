"""SW-1, SW-4: a switch that answers REST but never the events-websocket upgrade (the
Asterisk 22 hang of issue 12 part 6) leaves the controller without its Stasis app, so no
call reaches it. The controller says so — on the status page, in status.json and as an
ERROR line repeated with backoff, not per retry — and registers by itself once the
switch answers again.

The hang is injected by a TCP proxy in front of the real sandbox Asterisk that holds
websocket upgrades unanswered and passes every REST byte through (``stall_proxy``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest
from django.urls import reverse

from scripts.asterisk_sandbox import free_port
from switch_control import contract as c
from tests.conftest import wait_until
from tests.e2e.harness import make_harness
from tests.e2e.helpers import stream_events
from tests.e2e.stall_proxy import StallProxy
from tests.e2e.switch_bugs import ASTERISK_WS_HANG, ari_app_upgrade_hangs, take_restart_flag

ALARM_LINE = "is not registered on"


def registration(ctl) -> dict:  # type: ignore[no-untyped-def,type-arg]
    return dict((ctl.status() or {}).get("app_registration") or {})


def alarm_lines(ctl) -> list[str]:  # type: ignore[no-untyped-def]
    return [x for x in ctl.output().splitlines() if " ERROR " in x and ALARM_LINE in x]


@pytest.fixture
def proxy(asterisk):  # type: ignore[no-untyped-def]
    p = StallProxy(asterisk.info.http_port, stall_upgrades=True).start()
    try:
        yield p
    finally:
        p.stop()


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_status_alarms_while_the_app_cannot_register_and_recovers_by_itself(
    asterisk, proxy, controller_factory, redis_db, admin_client, settings
):
    ctl = controller_factory(ARI_URL=proxy.ari_url, WELCOME_PROMPT="").start(wait_connected=False)
    t0 = time.time()

    # 1. the upgrade never completes: the status says why, since when, switch reachable
    reg = wait_until(
        lambda: (r := registration(ctl)).get("switch_reachable") and r,
        20,
        0.2,
        "status: switch reachable but app not registered",
    )
    assert reg["registered"] is False
    assert reg["app"] == asterisk.info.app
    assert t0 <= reg["since"] <= time.time()
    assert "upgrade not answered" in reg["reason"]
    assert ctl.status()["connected"] is False
    assert proxy.stalled >= 1 and proxy.upgrades == 0

    # the status page and status.json show it to an admin (zh-Hans by default)
    settings.REDIS_URL = redis_db
    page = admin_client.get(reverse("status")).content.decode()
    assert f"交换机可以访问，但 ARI 应用“{asterisk.info.app}”自" in page
    assert "websocket upgrade not answered within 5s" in page
    data = admin_client.get(reverse("status-json"), HTTP_ACCEPT_LANGUAGE="en").json()
    (mine,) = [x for x in data["controllers"] if x["name"] == ctl.env["CONTROLLER_NAME"]]
    assert mine["alarm"].startswith(
        f"switch reachable but ARI app “{asterisk.info.app}” not registered since "
    )

    # an ERROR line once it lasts, not one per retry
    wait_until(lambda: alarm_lines(ctl), 30, 0.2, "ERROR line for the unregistered app")
    wait_until(lambda: registration(ctl)["attempts"] >= 3, 5, 0.2, "attempts in the status")
    assert len(alarm_lines(ctl)) == 1, alarm_lines(ctl)
    assert ctl.proc.poll() is None

    # 2. the switch answers again: the controller registers by itself, the alarm goes
    proxy.stall_upgrades = False
    wait_until(ctl.connected, 20, 0.2, "controller registered its app by itself")
    assert registration(ctl)["registered"] is True
    assert registration(ctl)["since"] is None
    wait_until(
        lambda: any(isinstance(e, c.SwitchConnected) for e in stream_events(redis_db)),
        10,
        what="SwitchConnected published",
    )
    data = admin_client.get(reverse("status-json")).json()
    (mine,) = [x for x in data["controllers"] if x["name"] == ctl.env["CONTROLLER_NAME"]]
    assert mine["alarm"] == "" and mine["connected"] is True
    assert "registered again" in ctl.output()

    # 3. the websocket is lost and the switch hangs again: alarm again, from the loss
    proxy.stall_upgrades = True
    t1 = time.time()
    assert proxy.drop_websockets() == 1
    reg = wait_until(
        lambda: (r := registration(ctl)).get("switch_reachable") and r,
        20,
        0.2,
        "alarm again after the websocket was lost",
    )
    assert t1 <= reg["since"] <= time.time()
    assert ctl.status()["connected"] is False
    proxy.stall_upgrades = False
    wait_until(ctl.connected, 20, 0.2, "registered again by itself")
    assert "Traceback" not in ctl.output(), ctl.output()


@pytest.mark.e2e
def test_the_known_hang_is_detected_only_when_an_upgrade_hangs_and_rest_answers(asterisk, proxy):
    info = asterisk.info
    args = (info.ari_user, info.ari_password, info.app)
    assert ari_app_upgrade_hangs(info.ari_url, *args) is None, "a healthy switch"
    found = ari_app_upgrade_hangs(proxy.ari_url, *args, timeout=1.0)
    assert found is not None and "unanswered after 1s" in found
    assert ari_app_upgrade_hangs(proxy.ari_url, info.ari_user, "wrong", info.app, 1.0) is None
    dead = free_port()  # nothing listens there
    assert ari_app_upgrade_hangs(f"http://127.0.0.1:{dead}/ari", *args, timeout=1.0) is None


@pytest.mark.e2e
async def test_a_harness_meeting_the_hang_is_xfailed_naming_it_not_restarted(asterisk, proxy):
    pid = asterisk.proc.pid
    behind_proxy = _Sandbox(dataclasses.replace(asterisk.info, http_port=proxy.port))
    with pytest.raises(pytest.xfail.Exception) as xfailed:
        await make_harness(behind_proxy, connect_timeout=2.0)
    assert str(xfailed.value).startswith(ASTERISK_WS_HANG)
    assert "CLOSE-WAIT" in str(xfailed.value)
    assert take_restart_flag(behind_proxy), "the next test gets a fresh switch"
    assert asterisk.proc.pid == pid and asterisk.proc.poll() is None, "not restarted now"

    # any other failure to connect is a plain failure, never an xfail
    wrong = _Sandbox(dataclasses.replace(asterisk.info, ari_password="wrong"))
    with pytest.raises(AssertionError, match="did not connect"):
        await make_harness(wrong, connect_timeout=2.0)
    assert take_restart_flag(wrong) is None


@dataclasses.dataclass(eq=False)
class _Sandbox:
    """The session's Asterisk seen through other connection details."""

    info: object


@pytest.mark.e2e
def test_a_controller_meeting_the_hang_is_xfailed_naming_it(asterisk, proxy, controller_factory):
    ctl = controller_factory(ARI_URL=proxy.ari_url)
    with pytest.raises(pytest.xfail.Exception, match="known Asterisk 22 bug"):
        ctl.start()
    assert take_restart_flag(asterisk), "the next test gets a fresh switch"
    assert ctl.proc.poll() is None, "the controller itself kept going"


CONFTEST = '''
import subprocess, sys
import pytest
sys.path.insert(0, {repo!r})
from tests.conftest import _asterisk_alive  # noqa: F401 - the fixture under test


class StandIn:
    """A process standing in for the sandbox Asterisk: alive until killed."""

    def __init__(self):
        self.restarts = 0
        self.proc = subprocess.Popen(["sleep", "600"])

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self):
        self.kill()
        self.restarts += 1
        self.proc = subprocess.Popen(["sleep", "600"])

    def log_tail(self, n=3000):
        return "stand-in log tail"


@pytest.fixture(scope="session")
def asterisk():
    sb = StandIn()
    yield sb
    sb.kill()
'''

TESTS = """
def test_a_switch_dies(asterisk):
    asterisk.kill()


def test_b_gets_a_fresh_one(asterisk):
    assert asterisk.proc.poll() is None and asterisk.restarts == 1


def test_c_is_not_restarted_again(asterisk):
    assert asterisk.restarts == 1
"""


def test_a_switch_that_dies_fails_the_test_that_saw_it_and_only_that_one(tmp_path):
    """The harness policy itself (no switch needed): a death is not repaired quietly."""
    import subprocess
    import sys

    from tests.conftest import REPO

    (tmp_path / "conftest.py").write_text(CONFTEST.format(repo=str(REPO)))
    (tmp_path / "test_inner.py").write_text(TESTS)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert "ERROR test_inner.py::test_a_switch_dies" in out, out
    assert "sandbox Asterisk died during this test (exit -9)" in out, out
    assert "stand-in log tail" in out
    assert "PASSED test_inner.py::test_b_gets_a_fresh_one" in out, out
    assert "PASSED test_inner.py::test_c_is_not_restarted_again" in out, out


@pytest.mark.e2e
async def test_a_second_connection_taking_the_app_name_is_an_alarm(asterisk):
    """SW-4: another websocket registering our app name (a second controller started with
    the same ARI_APP) makes Asterisk send this one ApplicationReplaced and no more calls.
    The driver must not go on as if registered: its status says the app was taken."""
    import aiohttp

    h = await make_harness(asterisk)
    try:
        assert h.driver.app_registration()["registered"] is True
        info = asterisk.info
        ws_url = info.ari_url.replace("http://", "ws://") + f"/events?app={info.app}"
        auth = {"Authorization": aiohttp.encode_basic_auth(info.ari_user, info.ari_password)}
        async with aiohttp.ClientSession(headers=auth) as s, s.ws_connect(ws_url) as intruder:
            deadline = time.monotonic() + 10
            while h.driver.app_registration()["registered"]:
                assert time.monotonic() < deadline, "ApplicationReplaced never reached us"
                await asyncio.sleep(0.05)
            reg = h.driver.app_registration()
            assert "ApplicationReplaced" in reg["reason"]
            assert reg["switch_reachable"] is True and reg["since"] is not None
            await intruder.close()
    finally:
        await h.close()
