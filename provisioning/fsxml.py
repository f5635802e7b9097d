"""FreeSWITCH XML documents for mod_xml_curl answers. Pure: no Django, no I/O.

Every document is built as an element tree, so whatever is interpolated (a display name,
a password, the domain FreeSWITCH asked for) is escaped by the serializer and can never
add elements. Characters XML 1.0 forbids are dropped first, since escaping cannot make
them legal."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

DOCUMENT_TYPE = "freeswitch/xml"
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

# XML 1.0 Char production, minus tab/CR/LF which we also turn into spaces: every value
# here is one line, and FreeSWITCH does not need newlines in any of them.
_ILLEGAL = re.compile("[^\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(value: str) -> str:
    """``value`` with characters that XML cannot carry replaced by spaces."""
    return _ILLEGAL.sub(" ", value)


def _el(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, tag, {k: clean(v) for k, v in attrs.items()})


def _serialize(root: ET.Element) -> bytes:
    return _DECLARATION + ET.tostring(root, encoding="utf-8", xml_declaration=False) + b"\n"


def _document(section: str) -> tuple[ET.Element, ET.Element]:
    root = ET.Element("document", {"type": DOCUMENT_TYPE})
    return root, _el(root, "section", name=section)


def not_found() -> bytes:
    """The standard answer for anything we don't serve: FreeSWITCH then tries its next
    binding and finally its own static files."""
    root, section = _document("result")
    _el(section, "result", status="not found")
    return _serialize(root)


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    """One ``<user>`` of the directory."""

    user_id: str
    params: Mapping[str, str] = field(default_factory=dict)
    variables: Mapping[str, str] = field(default_factory=dict)


def directory(
    domain: str | None,
    *,
    params: Mapping[str, str] | None = None,
    users: Iterable[DirectoryEntry] = (),
    group: str = "default",
) -> bytes:
    """A directory section with one domain holding ``users`` in ``group``.

    ``domain=None`` gives an empty section: a valid answer to a lookup that names no
    domain (sofia's ``purpose=gateways`` scan of every domain) and finds nothing."""
    root, section = _document("directory")
    if domain is not None:
        dom = _el(section, "domain", name=domain)
        if params:
            dom_params = _el(dom, "params")
            for name, value in params.items():
                _el(dom_params, "param", name=name, value=value)
        user_list = list(users)
        if user_list:
            grp_users = _el(_el(_el(dom, "groups"), "group", name=group), "users")
            for entry in user_list:
                user = _el(grp_users, "user", id=entry.user_id)
                if entry.params:
                    u_params = _el(user, "params")
                    for name, value in entry.params.items():
                        _el(u_params, "param", name=name, value=value)
                if entry.variables:
                    u_vars = _el(user, "variables")
                    for name, value in entry.variables.items():
                        _el(u_vars, "variable", name=name, value=value)
    return _serialize(root)


@dataclass(frozen=True, slots=True)
class Action:
    """One dialplan ``<action application=... data=...>``."""

    application: str
    data: str = ""


def dialplan(context: str, extension: str, expression: str, actions: Iterable[Action]) -> bytes:
    """A dialplan section with one context holding one extension whose single condition
    tests ``destination_number`` against ``expression`` (a PCRE)."""
    root, section = _document("dialplan")
    ctx = _el(section, "context", name=context)
    ext = _el(ctx, "extension", name=extension)
    cond = _el(ext, "condition", field="destination_number", expression=expression)
    for action in actions:
        attrs = {"application": action.application}
        if action.data:
            attrs["data"] = action.data
        _el(cond, "action", **attrs)
    return _serialize(root)
