"""Answers to FreeSWITCH's mod_xml_curl lookups (directory and dialplan), as XML bytes.

FreeSWITCH POSTs ``hostname, section, tag_name, key_name, key_value`` followed by the
lookup's event headers. What we serve:

* ``directory`` (``tag_name=domain``, ``key_value=<domain>``): the agent phone
  ``user=<extension>`` for ``action=sip_auth`` (REGISTER/INVITE digest auth),
  ``action=user_call`` (dialling ``user/1001``) and plain user lookups; an empty domain
  for sofia's ``purpose=gateways`` and the core's ``purpose=network-list``.
* ``dialplan`` (no tag/key: FreeSWITCH sends the channel, ``Hunt-Context`` and
  ``Hunt-Destination-Number`` say what to route): park for the controller.

Everything else gets the "not found" document, after which FreeSWITCH falls back to its
static files (``freeswitch_conf/``). For the dialplan that matters: a document without the
asked-for context would make mod_dialplan_xml fail the call instead of falling back.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from . import fsxml, selectors

logger = logging.getLogger(__name__)

# Found through every profile's registrations; sip_invite_domain and presence_id make the
# INVITE and BLF look like they came from the user's own domain.
DIAL_STRING = (
    "{^^:sip_invite_domain=${dialed_domain}:presence_id=${dialed_user}@${dialed_domain}}"
    "${sofia_contact(*/${dialed_user}@${dialed_domain})}"
)
AGENT_CONTEXT = "default"  # user_context of agent phones: dialplan/default.xml
INBOUND_CONTEXT = "public"  # trunks, E1 spans and unauthenticated callers

_EXTENSION = re.compile(r"[0-9]{3,6}")  # SW-6
_ACCESS_NUMBER = re.compile(r"\+?[0-9]{3,31}")  # provisioning.models.access_number_validator
_DIALLED = re.compile(r"\+?[0-9*#]{1,32}")  # what an agent phone may dial
# The domain comes from the SIP request (realm / host part). We echo it back, so only a
# host name or an IP literal gets through.
_DOMAIN = re.compile(r"[A-Za-z0-9._:\[\]-]{1,253}")

_USER_ACTIONS = frozenset({"sip_auth", "user_call", ""})
_EMPTY_DOMAIN_PURPOSES = frozenset({"gateways", "network-list"})


def respond(params: Mapping[str, str]) -> bytes:
    """The XML document answering one mod_xml_curl request."""
    section = params.get("section", "")
    if section == "directory":
        return _directory(params)
    if section == "dialplan":
        return _dialplan(params)
    logger.debug("xml_curl: section %r not served", section)
    return fsxml.not_found()


def _directory(p: Mapping[str, str]) -> bytes:
    domain = p.get("key_value") or p.get("domain", "")
    if domain and not _DOMAIN.fullmatch(domain):
        logger.info("xml_curl directory: refusing a malformed domain")
        return fsxml.not_found()

    purpose = p.get("purpose", "")
    if purpose in _EMPTY_DOMAIN_PURPOSES:
        # We keep no gateways and no per-user ACLs in the directory: say "nothing here"
        # rather than "not found", which would send FreeSWITCH to the static files.
        return fsxml.directory(domain or None, params={"dial-string": DIAL_STRING})

    action = p.get("action", "")
    user = p.get("user", "")
    if (
        p.get("tag_name") != "domain"
        or not domain
        or action not in _USER_ACTIONS
        or p.get("key", "id") != "id"
        or not _EXTENSION.fullmatch(user)
    ):
        logger.debug("xml_curl directory: not served (action %r, purpose %r)", action, purpose)
        return fsxml.not_found()

    agent = selectors.directory_user(user)
    if agent is None:
        logger.info("xml_curl directory: no agent phone %s (action %s)", user, action or "-")
        return fsxml.not_found()
    entry = fsxml.DirectoryEntry(
        user_id=agent.extension,
        params={"password": agent.password},
        variables={
            "user_context": AGENT_CONTEXT,
            "effective_caller_id_name": agent.display_name,
            "effective_caller_id_number": agent.extension,
            "cc_agent_job_number": agent.job_number,
        },
    )
    return fsxml.directory(domain, params={"dial-string": DIAL_STRING}, users=[entry])


def _first(p: Mapping[str, str], *names: str) -> str:
    for name in names:
        if value := p.get(name, ""):
            return value
    return ""


def _dialplan(p: Mapping[str, str]) -> bytes:
    # Hunt-* is the profile being routed now (after a transfer it differs from Caller-*).
    context = _first(p, "Hunt-Context", "Caller-Context")
    dest = _first(
        p, "Hunt-Destination-Number", "Caller-Destination-Number", "variable_destination_number"
    )
    call = p.get("Unique-ID", "-")

    if context == INBOUND_CONTEXT:
        if not _ACCESS_NUMBER.fullmatch(dest):
            logger.info("xml_curl dialplan: call %s to a malformed number", call)
            return fsxml.not_found()
        number = selectors.enabled_access_number(dest)
        if number is None:
            logger.info(
                "xml_curl dialplan: call %s to %s, not an enabled access number", call, dest
            )
            return fsxml.not_found()
        return fsxml.dialplan(
            INBOUND_CONTEXT,
            "cc_inbound",
            f"^{re.escape(number)}$",
            [
                fsxml.Action("set", "cc_direction=inbound"),
                fsxml.Action("set", f"cc_access_number={number}"),
                fsxml.Action("set", "cc_provisioned=true"),
                fsxml.Action("park"),
            ],
        )

    if context == AGENT_CONTEXT:
        if not _DIALLED.fullmatch(dest):
            logger.info(
                "xml_curl dialplan: call %s from an agent phone to a malformed number", call
            )
            return fsxml.not_found()
        kind = "extension" if _EXTENSION.fullmatch(dest) else "external"
        return fsxml.dialplan(
            AGENT_CONTEXT,
            "cc_internal",
            f"^{re.escape(dest)}$",
            [
                fsxml.Action("set", "cc_direction=internal"),
                fsxml.Action("set", f"cc_dialed_kind={kind}"),
                fsxml.Action("set", "cc_provisioned=true"),
                fsxml.Action("park"),
            ],
        )

    logger.info("xml_curl dialplan: call %s in context %r not served", call, context)
    return fsxml.not_found()
