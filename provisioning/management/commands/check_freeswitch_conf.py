"""``manage.py check_freeswitch_conf [DIR]``: deployment mistakes in a FreeSWITCH
configuration directory built from ``freeswitch_conf/`` (SW-1, SW-6, ADM-2).

Static checks of DIR as FreeSWITCH would load it (``/etc/freeswitch`` by default), without
a running switch: files FreeSWITCH cannot parse, preprocessor lines it would run from
inside a comment, includes that match nothing, undefined ``$${variables}``, modules the
controller needs that are not loaded, loaded modules without their configuration file,
deprecated profile parameters, literal passwords, no carrier gateway or carrier address,
and the certificate of browser phones (``wss.pem``): without one FreeSWITCH silently
generates a self-signed certificate, which browsers refuse.

Errors (FreeSWITCH or the controller would not work) make the command exit non-zero;
warnings are printed and the exit status stays 0.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

DEFAULT_DIR = "/etc/freeswitch"  # Debian packages; a source build: /usr/local/freeswitch/conf

# Global variables FreeSWITCH defines itself before it reads vars.xml.
BUILTIN_VARS = frozenset(
    {
        "local_ip_v4",
        "local_ip_v6",
        "local_mask_v4",
        "hostname",
        "switch_serial",
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
        "grammar_dir",
        "fonts_dir",
        "images_dir",
        "htdocs_dir",
    }
)
VAR_REF = re.compile(r"\$\$\{([A-Za-z0-9_]+)\}")
COMMENT = re.compile(r"<!--.*?-->", re.S)

# Modules the controller drives calls through (freeswitch_conf/README.md).
REQUIRED_MODULES = (
    "mod_event_socket",
    "mod_sofia",
    "mod_xml_curl",
    "mod_commands",
    "mod_dptools",
    "mod_dialplan_xml",
    "mod_conference",
)
# Modules that read a configuration of their own at load: loaded without it, FreeSWITCH
# logs an error and the module runs on its defaults (or, for the first ones, not at all).
MODULE_CONFIGS = {
    "mod_event_socket": "event_socket.conf",
    "mod_sofia": "sofia.conf",
    "mod_xml_curl": "xml_curl.conf",
    "mod_conference": "conference.conf",
    "mod_console": "console.conf",
    "mod_logfile": "logfile.conf",
    "mod_local_stream": "local_stream.conf",
    "mod_opus": "opus.conf",
    "mod_db": "db.conf",
    "mod_freetdm": "freetdm.conf",
    "mod_verto": "verto.conf",
}
ESSENTIAL_CONFIGS = frozenset({"event_socket.conf", "sofia.conf", "xml_curl.conf"})
DEPRECATED_PARAMS = {
    "rtp-timeout-sec": "the channel variable media_timeout (milliseconds, e.g. in vars.xml)",
    "rtp-hold-timeout-sec": "the channel variable media_hold_timeout (milliseconds)",
}
LOOPBACK = re.compile(r"^(127\.|::1)")


@dataclass(frozen=True)
class Finding:
    level: str  # "error" or "warning"
    where: str  # a path relative to the checked directory (or the certificate's path)
    text: str

    def __str__(self) -> str:
        return f"{self.level.upper():<7} {self.where}: {self.text}"


class _Checker:
    def __init__(self, conf: Path, certs_dir: Path | None) -> None:
        self.conf = conf.absolute()
        self.certs_dir = certs_dir
        self.found: list[Finding] = []
        self.docs: dict[Path, ET.Element] = {}

    def error(self, where: str, text: str) -> None:
        self.found.append(Finding("error", where, text))

    def warn(self, where: str, text: str) -> None:
        self.found.append(Finding("warning", where, text))

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.conf))
        except ValueError:
            return str(path)

    # ------------------------------------------------------------------ files
    def xml_files(self) -> list[Path]:
        return sorted(p for p in self.conf.rglob("*.xml") if p.is_file())

    def parse_all(self) -> None:
        for path in self.xml_files():
            text = path.read_text(errors="replace")
            try:
                self.docs[path] = ET.fromstring(text)  # noqa: S314 (the admin's own files)
            except ET.ParseError as exc:
                self.error(
                    self.rel(path), f"not well-formed XML ({exc}): FreeSWITCH will not load it"
                )
            hidden = "".join(COMMENT.findall(text))
            if "X-PRE-PROCESS" in hidden:
                self.error(
                    self.rel(path),
                    "an X-PRE-PROCESS line inside an XML comment: FreeSWITCH's preprocessor "
                    "still runs it (delete the line instead)",
                )

    def includes(self) -> None:
        for path, root in self.docs.items():
            for el in root.iter("X-PRE-PROCESS"):
                if el.get("cmd") != "include":
                    continue
                pattern = el.get("data", "")
                base = path.parent if not pattern.startswith("/") else Path("/")
                if not list(base.glob(pattern.lstrip("/"))):
                    self.warn(self.rel(path), f"includes {pattern!r}, which matches no file")

    def variables(self) -> dict[str, str | None]:
        """Global variables the preprocessor defines: name -> value (None: from the
        environment or a command, unknown here)."""
        out: dict[str, str | None] = dict.fromkeys(BUILTIN_VARS)
        for root in self.docs.values():
            for el in root.iter("X-PRE-PROCESS"):
                cmd = el.get("cmd", "")
                name, _, value = el.get("data", "").partition("=")
                if cmd == "set":
                    out[name] = value
                elif cmd in ("env-set", "exec-set", "stun-set"):
                    out.setdefault(name, None)
        return out

    def undefined_variables(self, defined: dict[str, str | None]) -> None:
        for path in self.docs:
            for name in sorted(set(VAR_REF.findall(path.read_text(errors="replace")))):
                if name not in defined:
                    self.error(
                        self.rel(path),
                        f"uses $${{{name}}}, which no preprocessor line defines: FreeSWITCH "
                        "would use the text itself",
                    )

    # ------------------------------------------------------------------ modules
    def configurations(self) -> set[str]:
        return {root.get("name", "") for root in self.docs.values() if root.tag == "configuration"}

    def modules(self) -> None:
        roots = [r for r in self.docs.values() if r.get("name") == "modules.conf"]
        if not roots:
            self.error("autoload_configs/modules.conf.xml", "missing: FreeSWITCH loads no module")
            return
        loaded = [el.get("module", "") for r in roots for el in r.iter("load")]
        for module in REQUIRED_MODULES:
            if module not in loaded:
                self.error("autoload_configs/modules.conf.xml", f"{module} is not loaded")
        have = self.configurations()
        for module in loaded:
            name = MODULE_CONFIGS.get(module)
            if name and name not in have:
                msg = f'{module} is loaded but no file has <configuration name="{name}">'
                if name in ESSENTIAL_CONFIGS:
                    self.error("autoload_configs", msg)
                else:
                    self.warn("autoload_configs", msg + " (FreeSWITCH logs an error at start)")

    # ------------------------------------------------------------------ params
    def params(self) -> Iterator[tuple[Path, str, str]]:
        for path, root in self.docs.items():
            for el in root.iter("param"):
                yield path, el.get("name", ""), el.get("value", "")

    def deprecated_and_secrets(self) -> None:
        for path, name, value in self.params():
            if name in DEPRECATED_PARAMS:
                self.warn(
                    self.rel(path),
                    f"{name} is deprecated (FreeSWITCH 1.10+ warns at start): use "
                    f"{DEPRECATED_PARAMS[name]}",
                )
            if ("password" in name or name == "gateway-credentials") and value:
                if VAR_REF.sub("", value).strip(":") != "":
                    self.warn(
                        self.rel(path),
                        f"{name} holds a literal secret: set it from the environment "
                        "(vars.xml env-set) instead",
                    )

    def event_socket(self) -> None:
        for path, root in self.docs.items():
            if root.get("name") != "event_socket.conf":
                continue
            p = {el.get("name", ""): el.get("value", "") for el in root.iter("param")}
            if not LOOPBACK.match(p.get("listen-ip", "")) and not p.get("apply-inbound-acl"):
                self.warn(
                    self.rel(path),
                    f"the event socket listens on {p.get('listen-ip', '?')} with no "
                    "apply-inbound-acl: anyone who reaches it may try the password",
                )

    def carriers(self) -> None:
        gateways = [
            gw
            for path, root in self.docs.items()
            if path.parent.name == "external" and path.parent.parent.name == "sip_profiles"
            for gw in root.iter("gateway")
        ]
        if not gateways:
            self.warn(
                "sip_profiles/external",
                "no carrier gateway: calls the controller dials out "
                "(sofia/gateway/<FS_GATEWAY>/...) fail; copy carrier.xml.example to carrier.xml",
            )
        for path, root in self.docs.items():
            for lst in root.iter("list"):
                if lst.get("name") != "carriers":
                    continue
                cidrs = [n.get("cidr", "") for n in lst.iter("node") if n.get("type") == "allow"]
                if not [c for c in cidrs if not LOOPBACK.match(c)]:
                    self.warn(
                        self.rel(path),
                        "the carriers ACL admits no carrier address: calls from SIP trunks "
                        "get 403 Forbidden",
                    )

    # ------------------------------------------------------------------ WSS certificate
    def cert_dirs(self, value: str, defined: dict[str, str | None]) -> list[Path]:
        if self.certs_dir is not None:
            return [self.certs_dir]
        defaults = [self.conf / "tls", self.conf.parent / "certs"]
        if not value or "$${certs_dir}" in value:
            return defaults
        resolved = VAR_REF.sub(lambda m: defined.get(m.group(1)) or m.group(0), value)
        if VAR_REF.search(resolved):
            return defaults
        return [Path(resolved)]

    def wss(self, defined: dict[str, str | None]) -> None:
        for path, root in self.docs.items():
            for profile in root.iter("profile"):
                settings = profile.find("settings")
                if settings is None:
                    continue
                p = {el.get("name", ""): el.get("value", "") for el in settings.iter("param")}
                if not p.get("wss-binding"):
                    continue
                dirs = self.cert_dirs(p.get("tls-cert-dir", ""), defined)
                pem = next((d / "wss.pem" for d in dirs if (d / "wss.pem").is_file()), None)
                where = f"{self.rel(path)} (profile {profile.get('name')})"
                if pem is None:
                    self.warn(
                        where,
                        "secure WebSocket for browser phones but no wss.pem in "
                        + " or ".join(str(d) for d in dirs)
                        + ": FreeSWITCH silently generates a self-signed certificate, which "
                        "browsers refuse (the WebRTC softphone cannot connect). Install the "
                        "host's certificate, its chain and its private key in one wss.pem",
                    )
                    continue
                self.check_pem(pem)

    def check_pem(self, pem: Path) -> None:
        where = str(pem)
        try:
            text = pem.read_text(errors="replace")
        except OSError as exc:
            self.error(where, f"cannot be read ({exc.strerror}): FreeSWITCH cannot either")
            return
        blocks = re.findall(r"-----BEGIN ([A-Z0-9 ]+)-----", text)
        if "CERTIFICATE" not in blocks:
            self.error(where, "holds no certificate (-----BEGIN CERTIFICATE-----)")
            return
        if not any(b.endswith("PRIVATE KEY") for b in blocks):
            self.error(where, "holds no private key: put the key after the certificates")
            return
        try:
            cert = _first_certificate(text)
        except ValueError as exc:
            self.error(where, f"its first certificate cannot be parsed ({exc})")
            return
        if cert is None:
            return  # no X.509 parser here: the blocks are there, nothing more to say
        if cert.issuer == cert.subject:
            self.warn(
                where,
                f"is self-signed ({cert.subject.rfc4514_string()}), as FreeSWITCH generates "
                "when none is installed: browsers refuse it; install a certificate from a CA "
                "they trust",
            )
        now = datetime.now(UTC)
        if cert.not_valid_after_utc < now:
            self.warn(where, f"expired on {cert.not_valid_after_utc:%Y-%m-%d}: browsers refuse it")
        elif cert.not_valid_before_utc > now:
            self.warn(where, f"is not valid before {cert.not_valid_before_utc:%Y-%m-%d}")

    # ------------------------------------------------------------------ all
    def run(self) -> list[Finding]:
        if not self.conf.is_dir():
            self.error(str(self.conf), "no such directory")
            return self.found
        if not (self.conf / "freeswitch.xml").is_file():
            self.error("freeswitch.xml", "missing: FreeSWITCH reads its configuration from it")
        self.parse_all()
        defined = self.variables()
        self.includes()
        self.undefined_variables(defined)
        self.modules()
        self.deprecated_and_secrets()
        self.event_socket()
        self.carriers()
        self.wss(defined)
        return self.found


def _first_certificate(text: str) -> Any:
    """The first certificate in ``text`` (a ``cryptography`` X.509 object), or None when no
    X.509 parser is installed (``cryptography`` comes with daphne's Twisted TLS extra).
    Raises ValueError when it cannot be parsed."""
    try:
        from cryptography import x509
    except ImportError:  # pragma: no cover - installed with daphne
        return None
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    start = text.index(begin)
    stop = text.find(end, start)
    if stop < 0:
        raise ValueError("no END CERTIFICATE line")
    return x509.load_pem_x509_certificate(text[start : stop + len(end)].encode())


def check_conf(conf: Path, certs_dir: Path | None = None) -> list[Finding]:
    """Every problem found in the configuration directory ``conf``, errors first."""
    found = _Checker(conf, certs_dir).run()
    return sorted(found, key=lambda f: f.level != "error")


class Command(BaseCommand):
    help = (
        "Check a FreeSWITCH configuration directory made from freeswitch_conf/ for "
        "deployment mistakes (exit status 1 on errors; warnings are printed)."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("dir", nargs="?", default=DEFAULT_DIR, help=f"default {DEFAULT_DIR}")
        parser.add_argument(
            "--certs-dir",
            help="FreeSWITCH's certificate directory (default: tls-cert-dir of the profile, "
            "else DIR/tls as on Debian packages, or DIR/../certs as in a source build)",
        )

    def handle(self, *args, **opts):  # type: ignore[no-untyped-def]
        conf = Path(opts["dir"])
        certs = Path(opts["certs_dir"]) if opts.get("certs_dir") else None
        found = check_conf(conf, certs)
        errors = [f for f in found if f.level == "error"]
        warnings = [f for f in found if f.level == "warning"]
        for f in errors:
            self.stderr.write(self.style.ERROR(str(f)))
        for f in warnings:
            self.stderr.write(self.style.WARNING(str(f)))
        summary = f"{conf}: {len(errors)} error(s), {len(warnings)} warning(s)"
        if errors:
            raise CommandError(summary)
        self.stdout.write(summary if warnings else f"{conf}: no problems found")
