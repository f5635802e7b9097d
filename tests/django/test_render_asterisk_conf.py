"""ADM-2: the production Asterisk configuration rendered from the environment and the DB."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from acd.models import AgentProfile

pytestmark = pytest.mark.django_db

ENV = {
    "ARI_PASSWORD": "ari-secret-xyz",
    "AMI_PASSWORD": "ami-secret-xyz",
    "TRUNK_HOST": "203.0.113.10",
    "TRUNK_MATCH": "203.0.113.10",
}


@pytest.fixture
def agents(django_user_model):  # type: ignore[no-untyped-def]
    for ext, name in (("1001", "张伟"), ("100201", "王芳")):
        user = django_user_model.objects.create_user(f"u{ext}", password="x-secret-1")
        AgentProfile.objects.create(
            user=user, job_number=ext, extension=ext, display_name=name, sip_password=f"pw-{ext}"
        )


def test_renders_every_file_with_secrets_from_env_and_agents_with_auth(
    agents, tmp_path, monkeypatch
):
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    call_command("render_asterisk_conf", str(tmp_path))
    names = {p.name for p in tmp_path.iterdir()}
    assert {
        "pjsip.conf",
        "pjsip_agents.conf",
        "ari.conf",
        "manager.conf",
        "modules.conf",
        "extensions.conf",
        "http.conf",
    } <= names
    text = {p.name: p.read_text() for p in tmp_path.iterdir()}
    assert not any("{{" in t for t in text.values()), "every placeholder filled"
    assert "password = ari-secret-xyz" in text["ari.conf"]
    assert "secret = ami-secret-xyz" in text["manager.conf"]
    assert "bindaddr = 127.0.0.1" in text["manager.conf"], "AMI stays on loopback"
    assert "contact = sip:203.0.113.10" in text["pjsip.conf"]
    agents_conf = text["pjsip_agents.conf"]
    assert "[100201](agent-endpoint)" in agents_conf and "auth = 100201-auth" in agents_conf
    assert "password = pw-1001" in agents_conf
    assert '"张伟" <1001>' in agents_conf
    assert all(oct(p.stat().st_mode)[-3:] == "644" for p in tmp_path.iterdir())


def test_refuses_without_secrets(tmp_path, monkeypatch):
    for k in ENV:
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(CommandError, match="ARI_PASSWORD"):
        call_command("render_asterisk_conf", str(tmp_path))


def test_refuses_agents_without_a_sip_password(agents, tmp_path, monkeypatch):
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    AgentProfile.objects.filter(extension="1001").update(sip_password="")
    with pytest.raises(CommandError, match="1001"):
        call_command("render_asterisk_conf", str(tmp_path))
