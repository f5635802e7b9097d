"""System status (ADM-3): is the controller connected to the switch, how many calls."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from .roles import Role, has_role
from .status import call_summary, controllers


def _check(request: HttpRequest) -> None:
    if not (request.user.is_staff or has_role(request.user, Role.ADMIN, Role.SUPERVISOR)):
        raise PermissionDenied("status is for admins and supervisors")


def _with_alarms(ctrls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each controller's ``alarm``: why its app is not registered on the switch (SW-4),
    e.g. a switch that answers REST but never the events websocket; "" when it is."""
    for ctrl in ctrls:
        reg = ctrl.get("app_registration") or {}
        ctrl["alarm"] = ""
        if not reg or reg.get("registered") or reg.get("since") is None:
            continue
        since = timezone.localtime(datetime.fromtimestamp(float(reg["since"]), tz=UTC))
        values = {
            "app": reg.get("app", ""),
            "since": since.strftime("%Y-%m-%d %H:%M:%S"),
            "reason": reg.get("reason", ""),
        }
        if reg.get("switch_reachable"):
            text = _(
                "switch reachable but ARI app “%(app)s” not registered since %(since)s: %(reason)s"
            )
        else:
            text = _("ARI app “%(app)s” not registered since %(since)s: %(reason)s")
        ctrl["alarm"] = text % values
    return ctrls


@login_required
def status_page(request: HttpRequest) -> HttpResponse:
    _check(request)
    ctrls, error = controllers()
    ctrls = _with_alarms(ctrls)
    js_text = {
        "connected": _("connected to"),
        "not_connected": _("NOT connected to"),
        "calls": _("calls"),
        "live": _("live"),
        "none": _("No controller is running."),
    }
    context = {"controllers": ctrls, "error": error, "js_text": js_text, **call_summary()}
    return render(request, "core/status.html", context)


@login_required
def status_json(request: HttpRequest) -> JsonResponse:
    _check(request)
    ctrls, error = controllers()
    ctrls = _with_alarms(ctrls)
    return JsonResponse({"controllers": ctrls, "error": error, **call_summary()})


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")
