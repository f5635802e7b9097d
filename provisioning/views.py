"""The endpoint FreeSWITCH's mod_xml_curl asks for its directory and dialplan.

``POST /provisioning/freeswitch/xml-curl/``, form-encoded, HTTP Basic credentials
``XML_CURL_USER`` / ``XML_CURL_PASSWORD`` (``freeswitch_conf/autoload_configs/
xml_curl.conf.xml`` sends them). Without a configured password every request is refused
with 403: an open endpoint would hand out every agent's SIP password.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from urllib.parse import parse_qsl

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import xml_curl as handlers

logger = logging.getLogger(__name__)

XML_CONTENT_TYPE = "text/xml; charset=utf-8"
# A dialplan lookup carries every channel variable: often several hundred fields, more
# than Django's DATA_UPLOAD_MAX_NUMBER_FIELDS. Parsed here with our own bound.
MAX_FIELDS = 5000


@csrf_exempt  # FreeSWITCH has no CSRF token; it authenticates with HTTP Basic instead
@require_POST
def xml_curl(request: HttpRequest) -> HttpResponse:
    refused = _refuse_unless_authorized(request)
    if refused is not None:
        return refused
    try:
        params = _form(request.body)
    except ValueError:
        logger.warning("xml_curl: request with more than %d fields refused", MAX_FIELDS)
        return HttpResponse("too many fields\n", status=400, content_type="text/plain")
    return HttpResponse(handlers.respond(params), content_type=XML_CONTENT_TYPE)


def _form(body: bytes) -> dict[str, str]:
    """The form fields, first occurrence winning (mod_xml_curl puts its own ``section``,
    ``tag_name``, ``key_name``, ``key_value`` first, before the event's headers)."""
    params: dict[str, str] = {}
    pairs = parse_qsl(
        body.decode("utf-8", "replace"),
        keep_blank_values=True,
        max_num_fields=MAX_FIELDS,
        errors="replace",
    )
    for name, value in pairs:
        params.setdefault(name, value)
    return params


def _refuse_unless_authorized(request: HttpRequest) -> HttpResponse | None:
    password: str = settings.XML_CURL_PASSWORD
    if not password:
        logger.error(
            "xml_curl: XML_CURL_PASSWORD is not set, refusing every FreeSWITCH lookup (403)"
        )
        return HttpResponse("not configured\n", status=403, content_type="text/plain")

    given_user, given_password = _basic_credentials(request.META.get("HTTP_AUTHORIZATION", ""))
    # both compared in constant time, and both always compared
    user_ok = hmac.compare_digest(given_user.encode(), settings.XML_CURL_USER.encode())
    password_ok = hmac.compare_digest(given_password.encode(), password.encode())
    if given_password and user_ok and password_ok:
        return None
    logger.warning(
        "xml_curl: refused a request from %s: %s credentials",
        request.META.get("REMOTE_ADDR", "?"),
        "wrong" if given_password else "missing",
    )
    response = HttpResponse("authentication required\n", status=401, content_type="text/plain")
    response["WWW-Authenticate"] = 'Basic realm="freeswitch-xml-curl", charset="UTF-8"'
    return response


def _basic_credentials(header: str) -> tuple[str, str]:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else ("", "")
