"""The mod_xml_curl endpoint, fed what FreeSWITCH really POSTs (ADM-2, SW-5, SW-6).

Request bodies follow mod_xml_curl: ``hostname, section, tag_name, key_name, key_value``
first, then the lookup's event headers, form-encoded. Header values are taken from the
real FreeSWITCH 1.11 captures in ../shared/freeswitch-captures/ (Core-UUID, host names,
the parked caller of scenario 01, SIPp user agents), with our profile names.
"""

from __future__ import annotations

import base64
import logging
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from acd.models import AgentProfile
from provisioning.models import AccessNumber

pytestmark = pytest.mark.django_db

URL = "/provisioning/freeswitch/xml-curl/"
USER = "freeswitch"
PASSWORD = "xml-curl-test-secret"
DOMAIN = "192.0.2.2"  # $${domain} = FreeSWITCH-IPv4 of the captured switch
DISPLAY_NAME = '客服 张三 & <VIP> "一线"'
SIP_PASSWORD = 'p&ss<w>"rd'

# Event headers every REQUEST_PARAMS event starts with (values from the captures).
EVENT = [
    ("Event-Name", "REQUEST_PARAMS"),
    ("Core-UUID", "87bbbdeb-0075-4403-8a2c-dd0a16b25052"),
    ("FreeSWITCH-Hostname", "vm"),
    ("FreeSWITCH-Switchname", "vm"),
    ("FreeSWITCH-IPv4", "192.0.2.2"),
    ("FreeSWITCH-IPv6", "fd00::2"),
    ("Event-Date-Local", "2026-11-22 06:43:41"),
    ("Event-Date-GMT", "Sun, 22 Nov 2026 06:43:41 GMT"),
    ("Event-Date-Timestamp", "1795329821886044"),
]


def directory_request(user: str = "1001", action: str = "sip_auth", **extra: str) -> list:
    """A REGISTER from agent phone ``user`` being authenticated (sofia_reg.c)."""
    fields = [
        ("hostname", "vm"),
        ("section", "directory"),
        ("tag_name", "domain"),
        ("key_name", "name"),
        ("key_value", DOMAIN),
        *EVENT,
        ("Event-Calling-File", "sofia_reg.c"),
        ("Event-Calling-Function", "sofia_reg_parse_auth"),
        ("Event-Calling-Line-Number", "2870"),
        ("Event-Sequence", "725"),
        ("action", action),
        ("sip_profile", "internal"),
        ("sip_user_agent", "SIPp-lab-1001"),
        ("sip_auth_username", user),
        ("sip_auth_realm", DOMAIN),
        ("sip_auth_nonce", "3d2e4f6a-51c4-4e8b-9c1f-2a7b8c9d0e1f"),
        ("sip_auth_uri", f"sip:{DOMAIN}"),
        ("sip_contact_user", user),
        ("sip_contact_host", "127.0.0.1"),
        ("sip_to_user", user),
        ("sip_to_host", DOMAIN),
        ("sip_via_protocol", "udp"),
        ("sip_from_user", user),
        ("sip_from_host", DOMAIN),
        ("sip_call_id", "1-26660@127.0.0.1"),
        ("sip_request_host", DOMAIN),
        ("sip_request_port", "5060"),
        ("sip_auth_qop", "auth"),
        ("sip_auth_cnonce", "6b8b4567"),
        ("sip_auth_nc", "00000001"),
        ("sip_auth_response", "b7e6c5d4a3f2e1d0c9b8a7f6e5d4c3b2"),
        ("sip_auth_method", "REGISTER"),
        ("key", "id"),
        ("user", user),
        ("domain", DOMAIN),
        ("ip", "127.0.0.1"),
    ]
    return _with(fields, extra)


def user_call_request(user: str = "1001") -> list:
    """``originate user/1001 ...`` resolving the dial-string (mod_dptools user channel)."""
    return [
        ("hostname", "vm"),
        ("section", "directory"),
        ("tag_name", "domain"),
        ("key_name", "name"),
        ("key_value", DOMAIN),
        *EVENT,
        ("Event-Calling-File", "mod_dptools.c"),
        ("Event-Calling-Function", "user_outgoing_channel"),
        ("Event-Calling-Line-Number", "4024"),
        ("Event-Sequence", "731"),
        ("as_channel", "true"),
        ("action", "user_call"),
        ("key", "id"),
        ("user", user),
        ("domain", DOMAIN),
    ]


def inbound_call(number: str = "4008001234", **extra: str) -> list:
    """The parked caller of scenario 01, as mod_dialplan_xml asks for its route. The
    dialplan lookup names no tag or key: Hunt-Context and Hunt-Destination-Number do."""
    uuid = "ad95f418-d20c-44c7-abad-763b7c257f3d"
    channel = "sofia/external/5550101@127.0.0.1:5061"
    fields = [
        ("hostname", "vm"),
        ("section", "dialplan"),
        ("tag_name", ""),
        ("key_name", ""),
        ("key_value", ""),
        *EVENT,
        ("Event-Calling-File", "mod_dialplan_xml.c"),
        ("Event-Calling-Function", "dialplan_xml_locate"),
        ("Event-Calling-Line-Number", "635"),
        ("Event-Sequence", "510"),
        ("Channel-State", "CS_ROUTING"),
        ("Channel-Call-State", "RINGING"),
        ("Channel-Name", channel),
        ("Unique-ID", uuid),
        ("Call-Direction", "inbound"),
        ("Presence-Call-Direction", "inbound"),
        ("Channel-HIT-Dialplan", "true"),
        ("Channel-Call-UUID", uuid),
        ("Answer-State", "ringing"),
        ("Caller-Direction", "inbound"),
        ("Caller-Logical-Direction", "inbound"),
        ("Caller-Username", "5550101"),
        ("Caller-Dialplan", "XML"),
        ("Caller-Caller-ID-Name", "Caller S1"),
        ("Caller-Caller-ID-Number", "5550101"),
        ("Caller-Network-Addr", "127.0.0.1"),
        ("Caller-ANI", "5550101"),
        ("Caller-Destination-Number", number),
        ("Caller-Unique-ID", uuid),
        ("Caller-Source", "mod_sofia"),
        ("Caller-Context", "public"),
        ("Caller-Channel-Name", channel),
        ("variable_direction", "inbound"),
        ("variable_uuid", uuid),
        ("variable_sip_from_user", "5550101"),
        ("variable_sip_from_host", "127.0.0.1"),
        ("variable_channel_name", channel),
        ("variable_sip_call_id", "1-20150@127.0.0.1"),
        ("variable_sofia_profile_name", "external"),
        ("variable_sip_req_user", number),
        ("variable_sip_to_user", number),
        ("variable_sip_user_agent", "SIPp-lab-caller"),
        ("variable_rtp_use_codec_string", "PCMU,PCMA"),
        ("Hunt-Username", "5550101"),
        ("Hunt-Dialplan", "XML"),
        ("Hunt-Caller-ID-Name", "Caller S1"),
        ("Hunt-Caller-ID-Number", "5550101"),
        ("Hunt-Network-Addr", "127.0.0.1"),
        ("Hunt-ANI", "5550101"),
        ("Hunt-Destination-Number", number),
        ("Hunt-Unique-ID", uuid),
        ("Hunt-Source", "mod_sofia"),
        ("Hunt-Context", "public"),
        ("Hunt-Channel-Name", channel),
    ]
    return _with(fields, extra)


def agent_call(dialled: str, **extra: str) -> list:
    """Agent phone 1001 (authenticated, user_context=default) dials ``dialled``."""
    fields = [
        (k, v)
        for k, v in inbound_call(dialled)
        if not k.startswith(("Caller-Caller-ID", "Hunt-Caller-ID", "variable_sofia"))
    ]
    fields += [
        ("Caller-Caller-ID-Number", "1001"),
        ("Hunt-Caller-ID-Number", "1001"),
        ("variable_sofia_profile_name", "internal"),
        ("variable_user_name", "1001"),
        ("variable_cc_agent_job_number", "A1001"),
    ]
    return _with(fields, {"Caller-Context": "default", "Hunt-Context": "default", **extra})


def _with(fields: list, extra: dict[str, str]) -> list:
    """``fields`` with the named ones replaced in place (unknown ones appended)."""
    out = [(k, extra.get(k, v)) for k, v in fields]
    out += [(k, v) for k, v in extra.items() if k not in dict(fields)]
    return out


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def configured(settings):  # type: ignore[no-untyped-def]
    settings.XML_CURL_USER = USER
    settings.XML_CURL_PASSWORD = PASSWORD


@pytest.fixture
def fs(configured, django_assert_max_num_queries):  # type: ignore[no-untyped-def]
    """POST like mod_xml_curl: form-encoded, Basic auth, no CSRF token. Every answer must
    take at most 2 queries and, when 200, be a FreeSWITCH document."""
    client = Client(enforce_csrf_checks=True)

    def post(fields: list, auth: str | None = basic(USER, PASSWORD)):  # type: ignore[no-untyped-def]
        headers = {"HTTP_AUTHORIZATION": auth} if auth is not None else {}
        with django_assert_max_num_queries(2):
            response = client.post(
                URL,
                data=urlencode(fields),
                content_type="application/x-www-form-urlencoded",
                **headers,
            )
        if response.status_code == 200:
            assert response["Content-Type"].startswith("text/xml")
            response.xml = ET.fromstring(response.content)  # noqa: S314 (ours)
            assert response.xml.tag == "document"
            assert response.xml.get("type") == "freeswitch/xml"
        return response

    return post


def make_agent(extension: str = "1001", sip_password: str = SIP_PASSWORD, **kw: str):  # type: ignore[no-untyped-def]
    user = get_user_model().objects.create_user(username=f"agent{extension}")
    return AgentProfile.objects.create(
        user=user,
        job_number=kw.pop("job_number", f"A{extension}"),
        extension=extension,
        sip_password=sip_password,
        display_name=kw.pop("display_name", DISPLAY_NAME),
    )


def is_not_found(doc: ET.Element) -> bool:
    result = doc.find("./section[@name='result']/result")
    return result is not None and result.get("status") == "not found" and len(doc) == 1


def user_of(doc: ET.Element) -> ET.Element:
    (user,) = doc.findall(f"./section[@name='directory']/domain[@name='{DOMAIN}']//user")
    return user


def values(el: ET.Element, tag: str) -> dict[str, str]:
    return {e.get("name", ""): e.get("value", "") for e in el.iter(tag)}


# --- directory ------------------------------------------------------------------------


def test_a_registering_agent_phone_gets_its_password_and_chinese_caller_id(fs):  # type: ignore[no-untyped-def]
    make_agent("1001")
    response = fs(directory_request("1001"))

    assert response.status_code == 200
    user = user_of(response.xml)
    assert user.get("id") == "1001"
    path = f"./section[@name='directory']/domain[@name='{DOMAIN}']/groups/group/users/user"
    assert response.xml.findall(path) == [user]
    assert values(user.find("params"), "param") == {"password": SIP_PASSWORD}  # type: ignore[arg-type]
    assert values(user.find("variables"), "variable") == {  # type: ignore[arg-type]
        "user_context": "default",
        "effective_caller_id_name": DISPLAY_NAME,
        "effective_caller_id_number": "1001",
        "cc_agent_job_number": "A1001",
    }
    # escaped on the wire, UTF-8 as it is
    body = response.content.decode("utf-8")
    assert "客服 张三 &amp; &lt;VIP&gt; &quot;一线&quot;" in body
    assert "p&amp;ss&lt;w&gt;&quot;rd" in body


def test_dialling_user_1001_gets_the_dial_string(fs):  # type: ignore[no-untyped-def]
    make_agent("1001")
    response = fs(user_call_request("1001"))

    domain = response.xml.find(f"./section[@name='directory']/domain[@name='{DOMAIN}']")
    dial_string = values(domain.find("params"), "param")["dial-string"]  # type: ignore[union-attr,arg-type]
    assert "${sofia_contact(*/${dialed_user}@${dialed_domain})}" in dial_string
    assert user_of(response.xml).get("id") == "1001"


def test_a_display_name_falls_back_to_the_username(fs):  # type: ignore[no-untyped-def]
    make_agent("2001", display_name="")
    user = user_of(fs(directory_request("2001")).xml)
    assert values(user, "variable")["effective_caller_id_name"] == "agent2001"


@pytest.mark.parametrize("user", ["1009", "99", "1234567", "abc", ""])
def test_unknown_users_are_not_found(fs, user):  # type: ignore[no-untyped-def]
    make_agent("1001")
    assert is_not_found(fs(directory_request(user)).xml)


def test_an_agent_without_a_sip_password_is_not_found(fs):  # type: ignore[no-untyped-def]
    make_agent("1001", sip_password="")
    assert is_not_found(fs(directory_request("1001")).xml)


@pytest.mark.parametrize(
    "field, value",
    [
        ("user", '1001"/><user id="6666"><params><param name="password" value="x"/>'),
        ("user", "1001&amp;"),
        ("key_value", f'{DOMAIN}"><user id="6666"/><x a="'),
        ("action", "reverse-auth-lookup"),
        ("key", "mailbox"),
    ],
)
def test_odd_or_hostile_requests_yield_not_found_and_nothing_injected(fs, field, value):  # type: ignore[no-untyped-def]
    make_agent("1001")
    if field == "user":  # what the phone put in its REGISTER, everywhere it appears
        response = fs(directory_request(value))
    else:
        response = fs(directory_request("1001", **{field: value}))
    assert is_not_found(response.xml)
    assert response.xml.find(".//user") is None


def test_stored_text_cannot_inject_elements_either(fs):  # type: ignore[no-untyped-def]
    make_agent(
        "1001",
        display_name='x"/></variables></user><user id="6666"><!-- \x01\x1b',
        sip_password="]]></param><param name='a1-hash' value='0'/>",
    )
    doc = fs(directory_request("1001")).xml
    user = user_of(doc)  # exactly one user
    assert list(values(user, "param")) == ["password"]
    assert values(user, "variable")["effective_caller_id_name"].startswith('x"/></variables>')


@pytest.mark.parametrize("purpose", ["gateways", "network-list"])
def test_gateway_and_network_list_scans_get_an_empty_domain(fs, purpose):  # type: ignore[no-untyped-def]
    make_agent("1001")
    fields = [
        ("hostname", "vm"),
        ("section", "directory"),
        ("tag_name", "domain"),
        ("key_name", "name"),
        ("key_value", DOMAIN),
        *EVENT,
        ("purpose", purpose),
        ("profile", "internal"),
        ("domain", DOMAIN),
    ]
    doc = fs(fields).xml
    assert doc.find(f"./section[@name='directory']/domain[@name='{DOMAIN}']") is not None
    assert doc.find(".//user") is None


def test_a_gateway_scan_of_all_domains_gets_an_empty_directory(fs):  # type: ignore[no-untyped-def]
    fields = [
        ("hostname", "vm"),
        ("section", "directory"),
        ("tag_name", ""),
        ("key_name", ""),
        ("key_value", ""),
        *EVENT,
        ("purpose", "gateways"),
        ("profile", "external"),
    ]
    doc = fs(fields).xml
    section = doc.find("./section[@name='directory']")
    assert section is not None and len(section) == 0


@pytest.mark.parametrize("section", ["configuration", "languages", "chatplan", ""])
def test_other_sections_are_not_found(fs, section):  # type: ignore[no-untyped-def]
    fields = [
        ("hostname", "vm"),
        ("section", section),
        ("tag_name", "configuration"),
        ("key_name", "name"),
        ("key_value", "sofia.conf"),
        *EVENT,
    ]
    assert is_not_found(fs(fields).xml)


# --- dialplan -------------------------------------------------------------------------


def test_a_call_to_an_access_number_is_parked_for_the_controller(fs):  # type: ignore[no-untyped-def]
    AccessNumber.objects.create(number="4008001234", description="客服热线")
    doc = fs(inbound_call("4008001234")).xml

    (context,) = doc.findall("./section[@name='dialplan']/context")
    assert context.get("name") == "public"
    (extension,) = context.findall("extension")
    (condition,) = extension.findall("condition")
    assert condition.get("field") == "destination_number"
    assert re.search(condition.get("expression", ""), "4008001234")
    assert not re.search(condition.get("expression", ""), "40080012345")
    actions = [(a.get("application"), a.get("data")) for a in condition.iter("action")]
    assert actions == [
        ("set", "cc_direction=inbound"),
        ("set", "cc_access_number=4008001234"),
        ("set", "cc_provisioned=true"),
        ("park", None),
    ]


def test_an_international_access_number_matches_literally(fs):  # type: ignore[no-untyped-def]
    AccessNumber.objects.create(number="+861012345678")
    doc = fs(inbound_call("+861012345678")).xml
    condition = doc.find(".//condition")
    assert re.search(condition.get("expression"), "+861012345678")  # type: ignore[union-attr,arg-type]
    assert not re.search(condition.get("expression"), "861012345678")  # type: ignore[union-attr,arg-type]


def test_the_current_hunt_destination_decides_after_a_transfer(fs):  # type: ignore[no-untyped-def]
    AccessNumber.objects.create(number="95555")
    doc = fs(inbound_call("4008001234", **{"Hunt-Destination-Number": "95555"})).xml
    assert ("set", "cc_access_number=95555") in [
        (a.get("application"), a.get("data")) for a in doc.iter("action")
    ]


@pytest.mark.parametrize("number", ["4008009999", "4008001234'", "40080<x/>", ""])
def test_unknown_numbers_in_the_public_context_are_not_found(fs, number):  # type: ignore[no-untyped-def]
    AccessNumber.objects.create(number="4008001234")
    assert is_not_found(fs(inbound_call(number)).xml)


def test_a_disabled_access_number_is_not_found(fs):  # type: ignore[no-untyped-def]
    AccessNumber.objects.create(number="4008001234", enabled=False)
    assert is_not_found(fs(inbound_call("4008001234")).xml)


@pytest.mark.parametrize(
    "dialled, kind",
    [("1002", "extension"), ("100", "extension"), ("13800138000", "external"), ("*8", "external")],
)
def test_calls_from_agent_phones_are_parked_as_internal(fs, dialled, kind):  # type: ignore[no-untyped-def]
    doc = fs(agent_call(dialled)).xml
    context = doc.find("./section[@name='dialplan']/context")
    assert context is not None and context.get("name") == "default"
    condition = context.find("./extension/condition")
    assert re.search(condition.get("expression"), dialled)  # type: ignore[union-attr,arg-type]
    actions = [(a.get("application"), a.get("data")) for a in context.iter("action")]
    assert ("set", "cc_direction=internal") in actions
    assert ("set", f"cc_dialed_kind={kind}") in actions
    assert actions[-1] == ("park", None)


@pytest.mark.parametrize("dialled", ["sip:1002@evil", "1002 ", ""])
def test_agent_phones_dialling_garbage_are_not_found(fs, dialled):  # type: ignore[no-untyped-def]
    assert is_not_found(fs(agent_call(dialled)).xml)


def test_other_contexts_are_not_found(fs):  # type: ignore[no-untyped-def]
    AccessNumber.objects.create(number="4008001234")
    fields = inbound_call("4008001234", **{"Hunt-Context": "features", "Caller-Context": "x"})
    assert is_not_found(fs(fields).xml)


def test_a_channel_with_many_variables_is_still_served(fs):  # type: ignore[no-untyped-def]
    # more fields than Django's DATA_UPLOAD_MAX_NUMBER_FIELDS (1000)
    AccessNumber.objects.create(number="4008001234")
    many = {f"variable_x_{i}": str(i) for i in range(1500)}
    assert not is_not_found(fs(inbound_call("4008001234", **many)).xml)


# --- authentication and method --------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [
        None,
        basic(USER, "wrong"),
        basic("someone", PASSWORD),
        basic(USER, ""),
        "Basic not-base64!!",
        "Bearer " + PASSWORD,
    ],
    ids=["missing", "wrong-password", "wrong-user", "empty-password", "garbage", "bearer"],
)
def test_wrong_or_missing_credentials_are_refused(fs, caplog, auth):  # type: ignore[no-untyped-def]
    make_agent("1001")
    with caplog.at_level(logging.WARNING, logger="provisioning"):
        response = fs(directory_request("1001"), auth=auth)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic ")
    assert SIP_PASSWORD.encode() not in response.content
    refusals = [r.getMessage() for r in caplog.records if r.name == "provisioning.views"]
    assert len(refusals) == 1 and "refused" in refusals[0]
    assert PASSWORD not in caplog.text


def test_without_a_configured_password_everything_is_refused(
    settings, caplog, django_assert_max_num_queries
):  # type: ignore[no-untyped-def]
    settings.XML_CURL_PASSWORD = ""
    make_agent("1001")
    client = Client()
    with caplog.at_level(logging.ERROR, logger="provisioning"), django_assert_max_num_queries(0):
        for auth in (basic(USER, ""), basic(USER, "anything"), None):
            headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
            response = client.post(
                URL,
                data=urlencode(directory_request("1001")),
                content_type="application/x-www-form-urlencoded",
                **headers,
            )
            assert response.status_code == 403
            assert SIP_PASSWORD.encode() not in response.content
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3 and all("XML_CURL_PASSWORD is not set" in m for m in lines)


def test_get_is_refused(configured):  # type: ignore[no-untyped-def]
    response = Client().get(URL, {"section": "directory", "user": "1001"})
    assert response.status_code == 405


def test_the_shipped_freeswitch_config_points_at_this_view():
    assert reverse("provisioning:xml-curl") == URL
    conf = Path(__file__).resolve().parents[2] / "freeswitch_conf/autoload_configs"
    root = ET.parse(conf / "xml_curl.conf.xml").getroot()  # noqa: S314 (ours)
    url = root.find(".//param[@name='gateway-url']")
    assert url is not None and url.get("value", "").endswith(URL)


# --- admin (ADM-2) --------------------------------------------------------------------


def test_admins_manage_access_numbers_with_search_filters_and_validation(admin_client):  # type: ignore[no-untyped-def]
    AccessNumber.objects.create(number="4008001234", description="客服热线")
    AccessNumber.objects.create(number="95555", description="短号", enabled=False)
    url = reverse("admin:provisioning_accessnumber_changelist")

    found = admin_client.get(url, {"q": "客服"})
    assert found.status_code == 200
    assert b"4008001234" in found.content and b"95555" not in found.content
    disabled = admin_client.get(url, {"enabled__exact": "0"})
    assert b"95555" in disabled.content and b"4008001234" not in disabled.content

    add = reverse("admin:provisioning_accessnumber_add")
    refused = admin_client.post(add, {"number": "400-800", "description": "", "enabled": "on"})
    assert refused.status_code == 200  # the form again, with the error
    assert not AccessNumber.objects.filter(number="400-800").exists()
    admin_client.post(add, {"number": "+861012345678", "description": "", "enabled": "on"})
    assert AccessNumber.objects.filter(number="+861012345678", enabled=True).exists()
