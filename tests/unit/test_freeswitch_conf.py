"""freeswitch_conf/ is a configuration FreeSWITCH can load, with no secret in it (SW-1, ADM-2),
and ``manage.py check_freeswitch_conf`` finds the mistakes of a deployed copy (issue 12).

No FreeSWITCH here (no package in any reachable registry), so these check what would make
it refuse or misbehave: malformed XML, preprocessor lines hidden in comments (FreeSWITCH
would still run them), includes matching nothing, undefined $${variables}, literal
passwords, and the few settings the platform depends on.
"""

from __future__ import annotations

import io
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from provisioning.management.commands.check_freeswitch_conf import check_conf

CONF = Path(__file__).resolve().parents[2] / "freeswitch_conf"
VIEW_PATH = "/provisioning/freeswitch/xml-curl/"  # provisioning/urls.py, under "provisioning/"

# Global variables FreeSWITCH defines itself before reading vars.xml.
BUILTIN_VARS = {
    "local_ip_v4",
    "local_ip_v6",
    "hostname",
    "base_dir",
    "conf_dir",
    "log_dir",
    "run_dir",
    "db_dir",
    "mod_dir",
    "script_dir",
    "temp_dir",
    "sounds_dir",
    "recordings_dir",
    "storage_dir",
    "certs_dir",
    "cache_dir",
    "data_dir",
}
VAR_REF = re.compile(r"\$\$\{([A-Za-z0-9_]+)\}")
COMMENT = re.compile(r"<!--.*?-->", re.S)


def xml_files() -> list[Path]:
    files = sorted(CONF.rglob("*.xml")) + sorted(CONF.rglob("*.xml.example"))
    assert len(files) > 15
    return files


def load(path: Path) -> ET.Element:
    return ET.parse(path).getroot()  # noqa: S314 (our own files)


def parse(rel: str) -> ET.Element:
    return load(CONF / rel)


def preprocess_lines(root: ET.Element) -> Iterator[tuple[str, str, str]]:
    """(cmd, name, value) of every preprocessor line, in order."""
    for el in root.iter("X-PRE-PROCESS"):
        name, _, value = el.get("data", "").partition("=")
        yield el.get("cmd", ""), name, value


def variables() -> dict[str, list[str]]:
    """Global variable -> the preprocessor commands that set it, in order (vars.xml)."""
    out: dict[str, list[str]] = {}
    for cmd, name, _value in preprocess_lines(parse("vars.xml")):
        if cmd in ("set", "env-set", "exec-set"):
            out.setdefault(name, []).append(cmd)
    return out


def params(el: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in el.iter("param")}


@pytest.mark.parametrize("path", xml_files(), ids=lambda p: str(p.relative_to(CONF)))
def test_every_file_is_a_well_formed_document_with_a_freeswitch_root(path: Path) -> None:
    root = load(path)
    if path.name == "freeswitch.xml":
        assert root.tag == "document" and root.get("type") == "freeswitch/xml"
    else:
        # fragments: <include> (pasted into a section) or a module's <configuration>
        assert root.tag in ("include", "configuration"), root.tag


@pytest.mark.parametrize("path", xml_files(), ids=lambda p: str(p.relative_to(CONF)))
def test_no_preprocessor_line_hides_in_a_comment(path: Path) -> None:
    # FreeSWITCH's preprocessor scans raw lines: a commented-out one still runs.
    text = path.read_text()
    assert "X-PRE-PROCESS" not in "".join(COMMENT.findall(text))
    assert "<!--#" not in text  # preprocessor comment commands, equally unintended


def test_every_include_matches_files() -> None:
    for path in xml_files():
        for el in load(path).iter("X-PRE-PROCESS"):
            if el.get("cmd") != "include":
                continue
            # relative includes are resolved from the including file's directory
            matches = list(path.parent.glob(el.get("data", "")))
            assert matches, f"{path.relative_to(CONF)} includes {el.get('data')}: no file"


def test_the_top_level_includes_vars_modules_dialplan_and_directory() -> None:
    root = parse("freeswitch.xml")
    assert next(d for _, d, _ in preprocess_lines(root)) == "vars.xml"
    sections = {s.get("name"): s for s in root.iter("section")}
    assert {"configuration", "dialplan", "directory"} <= set(sections)
    includes = {
        name: [el.get("data") for el in sec.iter("X-PRE-PROCESS")] for name, sec in sections.items()
    }
    assert includes["configuration"] == ["autoload_configs/*.xml"]
    assert includes["dialplan"] == ["dialplan/*.xml"]
    assert includes["directory"] == ["directory/*.xml"]


def test_every_referenced_variable_is_defined() -> None:
    defined = set(variables()) | BUILTIN_VARS
    for path in xml_files():
        for name in VAR_REF.findall(path.read_text()):
            assert name in defined, f"{path.relative_to(CONF)} uses undefined $${{{name}}}"


def test_secrets_come_from_the_environment_and_fail_closed() -> None:
    sets = variables()
    text = (CONF / "vars.xml").read_text()
    for var, env in (
        ("cc_esl_password", "ESL_PASSWORD"),
        ("cc_xml_curl_password", "XML_CURL_PASSWORD"),
        ("carrier_password", "CARRIER_PASSWORD"),
    ):
        # a random value first, the environment's (when set) over it: never empty or known
        assert sets[var] == ["exec-set", "env-set"], var
        assert f'data="{var}=${env}"' in text
    assert 'data="cc_esl_password=cat /proc/sys/kernel/random/uuid"' in text


def test_no_literal_password_anywhere() -> None:
    for path in xml_files():
        for el in load(path).iter("param"):
            name = el.get("name", "")
            if "password" in name or name in ("gateway-credentials",):
                value = el.get("value", "")
                assert VAR_REF.fullmatch(value) or re.fullmatch(
                    r"\$\$\{\w+\}:\$\$\{\w+\}", value
                ), f"{path.relative_to(CONF)}: {name}={value!r} is not a $${{}} variable"


def test_event_socket_listens_on_loopback_with_a_variable_password() -> None:
    s = params(parse("autoload_configs/event_socket.conf.xml"))
    assert s["listen-ip"] == "127.0.0.1"
    assert s["apply-inbound-acl"] == "loopback.auto"
    assert VAR_REF.fullmatch(s["password"])
    assert VAR_REF.fullmatch(s["password"]).group(1) == "cc_esl_password"  # type: ignore[union-attr]


def test_xml_curl_asks_the_provisioning_view_for_directory_and_dialplan() -> None:
    root = parse("autoload_configs/xml_curl.conf.xml")
    bindings = root.findall("./bindings/binding")
    assert len(bindings) == 1
    url = bindings[0].find("./param[@name='gateway-url']")
    assert url is not None
    assert url.get("value") == "$${cc_web_url}" + VIEW_PATH
    assert set(url.get("bindings", "").split("|")) == {"directory", "dialplan"}
    p = params(bindings[0])
    assert p["gateway-credentials"] == "$${cc_xml_curl_user}:$${cc_xml_curl_password}"
    assert p["auth-scheme"] == "basic"
    assert 0 < int(p["timeout"]) <= 5


def test_modules_load_xml_curl_before_sofia_and_everything_the_platform_uses() -> None:
    root = parse("autoload_configs/modules.conf.xml")
    loaded = [el.get("module") for el in root.iter("load")]
    for module in (
        "mod_event_socket",
        "mod_sofia",
        "mod_xml_curl",
        "mod_commands",
        "mod_dptools",
        "mod_dialplan_xml",
        "mod_conference",
        "mod_local_stream",
        "mod_sndfile",
        "mod_native_file",
        "mod_tone_stream",
        "mod_say_en",
        "mod_say_zh",
        "mod_opus",
    ):
        assert module in loaded, module
    assert loaded.index("mod_xml_curl") < loaded.index("mod_sofia")
    # hardware or optional: present, commented out
    text = (CONF / "autoload_configs/modules.conf.xml").read_text()
    for module in ("mod_freetdm", "mod_verto"):
        assert module not in loaded and f'<load module="{module}"/>' in text


def _actions(ext: ET.Element) -> list[tuple[str, str]]:
    return [(a.get("application", ""), a.get("data", "")) for a in ext.iter("action")]


def test_the_public_dialplan_parks_every_number_for_the_controller() -> None:
    ctx = parse("dialplan/public.xml").find("context")
    assert ctx is not None and ctx.get("name") == "public"
    (ext,) = ctx.findall("extension")
    cond = ext.find("condition")
    assert cond is not None and cond.get("field") == "destination_number"
    for number in ("4008001234", "95555", "+861012345678", "s"):
        assert re.search(cond.get("expression", ""), number)
    actions = _actions(ext)
    assert ("set", "cc_direction=inbound") in actions
    assert ("set", "cc_access_number=${destination_number}") in actions
    assert actions[-1] == ("park", "")
    assert "answer" not in [app for app, _ in actions]  # the controller answers


def test_the_default_dialplan_parks_agent_calls_to_extensions_and_numbers() -> None:
    ctx = parse("dialplan/default.xml").find("context")
    assert ctx is not None and ctx.get("name") == "default"

    def route(number: str) -> list[tuple[str, str]] | None:
        for ext in ctx.findall("extension"):
            cond = ext.find("condition")
            assert cond is not None
            if re.search(cond.get("expression", ""), number):
                return _actions(ext)
        return None

    for number, kind in (
        ("100", "extension"),
        ("1002", "extension"),
        ("123456", "extension"),
        ("13800138000", "external"),
        ("+8613800138000", "external"),
    ):
        actions = route(number)
        assert actions is not None, number
        assert ("set", "cc_direction=internal") in actions
        assert ("set", f"cc_dialed_kind={kind}") in actions, number
        assert actions[-1] == ("park", "")
    assert route("sip:evil") is None


def test_the_static_directory_has_the_domain_and_dial_string_but_no_users() -> None:
    root = parse("directory/default.xml")
    domain = root.find("domain")
    assert domain is not None and domain.get("name") == "$${domain}"
    assert "sofia_contact" in params(domain)["dial-string"]
    assert root.find(".//user") is None


def test_the_internal_profile_authenticates_phones_and_serves_browser_phones() -> None:
    root = parse("sip_profiles/internal.xml")
    profile = root.find("profile")
    assert profile is not None and profile.get("name") == "internal"
    s = params(profile.find("settings"))  # type: ignore[arg-type]
    assert s["auth-calls"] == "true"
    assert s["accept-blind-reg"] == "false"
    assert s["wss-binding"] == ":$${internal_wss_port}"
    assert "tls-cert-dir" in "".join(
        COMMENT.findall((CONF / "sip_profiles/internal.xml").read_text())
    )
    codecs = dict(
        (name, value) for cmd, name, value in preprocess_lines(parse("vars.xml")) if cmd == "set"
    )
    prefs = VAR_REF.sub(lambda m: codecs[m.group(1)], s["inbound-codec-prefs"]).split(",")
    assert prefs[:3] == ["PCMA", "PCMU", "OPUS"]


def test_the_external_profile_takes_calls_from_carriers_into_public() -> None:
    profile = parse("sip_profiles/external.xml").find("profile")
    assert profile is not None
    s = params(profile.find("settings"))  # type: ignore[arg-type]
    assert s["context"] == "public"
    assert s["apply-inbound-acl"] == "carriers"
    acl = parse("autoload_configs/acl.conf.xml")
    carriers = acl.find("./network-lists/list[@name='carriers']")
    assert carriers is not None and carriers.get("default") == "deny"
    gateway = parse("sip_profiles/external/carrier.xml.example").find("gateway")
    assert gateway is not None
    assert params(gateway)["password"] == "$${carrier_password}"


def test_the_e1_span_has_30_b_channels_and_the_d_channel_on_16() -> None:
    text = (CONF / "freetdm.conf").read_text()
    lines = [ln.split(";")[0].strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln]
    assert lines[0] == "[span wanpipe E1_1]"
    settings = [tuple(part.strip() for part in ln.split("=>")) for ln in lines[1:]]
    assert ("trunk_type", "E1") in settings
    b_channels: list[int] = []
    for key, value in settings:
        if key == "b-channel":
            span, _, rng = value.partition(":")
            first, _, last = rng.partition("-")
            assert span == "1"
            b_channels += range(int(first), int(last) + 1)
    assert sorted(b_channels) == [*range(1, 16), *range(17, 32)]
    assert ("d-channel", "1:16") in settings

    span = parse("autoload_configs/freetdm.conf.xml").find("./libpri_spans/span")
    assert span is not None and span.get("name") == "E1_1"
    p = params(span)
    assert p["switch"] == "euroisdn"
    assert (p["dialplan"], p["context"]) == ("XML", "public")


def test_a_threeway_conference_profile_exists() -> None:
    root = parse("autoload_configs/conference.conf.xml")
    assert root.find("./profiles/profile[@name='threeway']") is not None


def test_switch_limits_are_sane() -> None:
    s = params(parse("autoload_configs/switch.conf.xml"))
    assert int(s["max-sessions"]) >= 1000
    assert int(s["sessions-per-second"]) >= 30
    assert int(s["rtp-start-port"]) < int(s["rtp-end-port"])


# ---------------------------------------------------------------------------- issue 12, part 4
def test_rtp_timeouts_are_the_media_timeout_variables_in_milliseconds() -> None:
    # FreeSWITCH 1.10+ warns "rtp-timeout-sec deprecated use media_timeout variable" for
    # the profile parameters; the channel variables (global defaults here) are in ms.
    for path in xml_files():
        names = {el.get("name") for el in load(path).iter("param")}
        assert not names & {"rtp-timeout-sec", "rtp-hold-timeout-sec"}, path
    sets = {name: value for cmd, name, value in preprocess_lines(parse("vars.xml")) if cmd == "set"}
    assert int(sets["media_timeout"]) == 300_000  # 5 min, as rtp-timeout-sec 300 was
    assert int(sets["media_hold_timeout"]) == 1_800_000  # 30 min on hold


def test_every_loaded_module_that_reads_a_configuration_has_it() -> None:
    # a real FreeSWITCH 1.11 logged db.conf and opus.conf missing for the shipped config
    loaded = {el.get("module") for el in parse("autoload_configs/modules.conf.xml").iter("load")}
    configs = {load(p).get("name") for p in sorted((CONF / "autoload_configs").glob("*.xml"))}
    assert "mod_db" not in loaded  # the platform keeps nothing in the switch's db
    assert "mod_opus" in loaded and "opus.conf" in configs  # browser phones (WebRTC)
    for module, conf in (
        ("mod_event_socket", "event_socket.conf"),
        ("mod_sofia", "sofia.conf"),
        ("mod_xml_curl", "xml_curl.conf"),
        ("mod_conference", "conference.conf"),
        ("mod_local_stream", "local_stream.conf"),
        ("mod_console", "console.conf"),
        ("mod_logfile", "logfile.conf"),
    ):
        assert module in loaded and conf in configs, module


def test_opus_is_wideband_with_in_band_fec_for_remote_agents() -> None:
    s = params(parse("autoload_configs/opus.conf.xml"))
    assert s["use-dtx"] == "0"  # the conference mixer and recordings want a steady stream
    assert s["advertise-useinbandfec"] == "1" and int(s["packet-loss-percent"]) > 0
    assert int(s["maxplaybackrate"]) == 16000


def test_the_readme_says_what_a_missing_wss_pem_does() -> None:
    text = " ".join((CONF / "README.md").read_text().split())
    assert "self-signed" in text and "wss.pem" in text
    assert "check_freeswitch_conf" in text


# ------------------------------------------------------------------ manage.py check_freeswitch_conf
def deploy(tmp_path: Path) -> Path:
    """freeswitch_conf/ as an admin copies it to the switch (Debian layout: certs in tls/)."""
    target = tmp_path / "freeswitch"
    shutil.copytree(CONF, target)
    return target


def check(conf: Path, *args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("check_freeswitch_conf", str(conf), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _name(cn: str) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def write_pem(path: Path, *, self_signed: bool = False, days: int = 90, key: bool = True) -> None:
    """wss.pem as FreeSWITCH reads it: certificate, chain, private key, in one file."""
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    now = datetime.now(UTC)

    def cert(subject: str, issuer: str, pub: Any, signer: Any) -> Any:
        return (
            x509.CertificateBuilder()
            .subject_name(_name(subject))
            .issuer_name(_name(issuer))
            .public_key(pub)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=days))
            .sign(signer, hashes.SHA256())
        )

    leaf_key = ec.generate_private_key(ec.SECP256R1())
    if self_signed:
        chain = [cert("FreeSWITCH", "FreeSWITCH", leaf_key.public_key(), leaf_key)]
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = cert("Example CA", "Example CA", ca_key.public_key(), ca_key)
        chain = [cert("cc.example.com", "Example CA", leaf_key.public_key(), ca_key), ca]
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
    if key:
        pem += leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pem)


def test_check_warns_that_without_wss_pem_freeswitch_makes_a_self_signed_certificate(
    tmp_path: Path,
) -> None:
    conf = deploy(tmp_path)
    out, err = check(conf)  # warnings only: no CommandError, exit status 0
    (line,) = [ln for ln in err.splitlines() if "wss.pem" in ln]
    assert line.startswith("WARNING") and "self-signed" in line and "browsers refuse" in line
    assert str(conf / "tls") in line  # where it looked (Debian: /etc/freeswitch/tls)
    assert "0 error(s)" in out


def test_check_is_quiet_about_a_ca_signed_wss_pem(tmp_path: Path) -> None:
    conf = deploy(tmp_path)
    write_pem(conf / "tls" / "wss.pem")
    _out, err = check(conf)
    assert "wss.pem" not in err


def test_check_finds_wss_pem_where_tls_cert_dir_points(tmp_path: Path) -> None:
    conf = deploy(tmp_path)
    certs = tmp_path / "elsewhere"
    write_pem(certs / "wss.pem")
    profile = conf / "sip_profiles" / "internal.xml"
    text = profile.read_text()
    anchor = '<param name="wss-binding" value=":$${internal_wss_port}"/>'
    assert anchor in text
    profile.write_text(
        text.replace(anchor, anchor + f'\n      <param name="tls-cert-dir" value="{certs}"/>')
    )
    _out, err = check(conf)
    assert "wss.pem" not in err
    _out, err = check(conf, "--certs-dir", str(tmp_path / "empty"))  # the option wins
    assert "no wss.pem in " + str(tmp_path / "empty") in err


def test_check_warns_about_the_self_signed_certificate_freeswitch_left_behind(
    tmp_path: Path,
) -> None:
    # once started without one, FreeSWITCH has written its own wss.pem: present, useless
    conf = deploy(tmp_path)
    write_pem(conf / "tls" / "wss.pem", self_signed=True)
    _out, err = check(conf)
    (line,) = [ln for ln in err.splitlines() if "wss.pem" in ln]
    assert line.startswith("WARNING") and "is self-signed (CN=FreeSWITCH)" in line


def test_check_fails_on_a_wss_pem_without_its_private_key(tmp_path: Path) -> None:
    conf = deploy(tmp_path)
    write_pem(conf / "tls" / "wss.pem", key=False)
    with pytest.raises(CommandError, match=r"1 error\(s\)"):
        check(conf)


def test_check_fails_on_xml_freeswitch_cannot_parse(tmp_path: Path) -> None:
    conf = deploy(tmp_path)
    (conf / "dialplan" / "public.xml").write_text("<include><context name='public'></include>")
    err = io.StringIO()
    with pytest.raises(CommandError, match="error"):
        call_command("check_freeswitch_conf", str(conf), stdout=io.StringIO(), stderr=err)
    assert "ERROR   dialplan/public.xml: not well-formed XML" in err.getvalue()


def test_check_warns_about_deprecated_timeouts_and_modules_without_configuration(
    tmp_path: Path,
) -> None:
    conf = deploy(tmp_path)
    (conf / "autoload_configs" / "opus.conf.xml").unlink()
    profile = conf / "sip_profiles" / "external.xml"
    text = profile.read_text()
    anchor = '<param name="rtp-timer-name" value="soft"/>'
    profile.write_text(text.replace(anchor, anchor + '<param name="rtp-timeout-sec" value="300"/>'))
    _out, err = check(conf)
    assert "sip_profiles/external.xml: rtp-timeout-sec is deprecated" in err
    assert "media_timeout" in err
    assert 'mod_opus is loaded but no file has <configuration name="opus.conf">' in err


def test_check_fails_when_a_module_the_controller_needs_is_not_loaded(tmp_path: Path) -> None:
    conf = deploy(tmp_path)
    modules = conf / "autoload_configs" / "modules.conf.xml"
    modules.write_text(modules.read_text().replace('<load module="mod_event_socket"/>', ""))
    with pytest.raises(CommandError):
        check(conf)


def test_check_refuses_a_directory_that_is_not_there(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="1 error"):
        check(tmp_path / "nowhere")


def test_the_shipped_configuration_has_no_error_only_the_deployment_warnings(
    tmp_path: Path,
) -> None:
    found = check_conf(deploy(tmp_path))
    assert [f for f in found if f.level == "error"] == []
    assert sorted(f.where for f in found) == [
        "autoload_configs/acl.conf.xml",  # the carriers' addresses
        "sip_profiles/external",  # carrier.xml from the example
        "sip_profiles/internal.xml (profile internal)",  # wss.pem
    ]
