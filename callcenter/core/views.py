"""System status (ADM-3): is the controller connected to the switch, how many calls."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from .roles import Role, has_role
from .status import call_summary, controllers


def _check(request: HttpRequest) -> None:
    if not (request.user.is_staff or has_role(request.user, Role.ADMIN, Role.SUPERVISOR)):
        raise PermissionDenied("status is for admins and supervisors")


@login_required
def status_page(request: HttpRequest) -> HttpResponse:
    _check(request)
    ctrls, error = controllers()
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
    return JsonResponse({"controllers": ctrls, "error": error, **call_summary()})


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")
