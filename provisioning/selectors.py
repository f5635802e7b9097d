"""Reads for the switch's lookups: one query each, nothing else (they sit on the call path)."""

from __future__ import annotations

from dataclasses import dataclass

from acd.models import AgentProfile

from .models import AccessNumber


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """What the switch needs to authenticate and present one agent's phone."""

    extension: str
    password: str
    display_name: str
    job_number: str


def directory_user(extension: str) -> DirectoryUser | None:
    """The agent whose phone is ``extension``, if it may register (has a SIP password)."""
    row = (
        AgentProfile.objects.filter(extension=extension)
        .exclude(sip_password="")
        .values_list("extension", "sip_password", "display_name", "job_number", "user__username")
        .first()
    )
    if row is None:
        return None
    ext, password, display_name, job_number, username = row
    return DirectoryUser(
        extension=ext,
        password=password,
        display_name=display_name or username,
        job_number=job_number,
    )


def enabled_access_number(number: str) -> str | None:
    """``number`` as stored, if it is an enabled access number."""
    return (
        AccessNumber.objects.filter(number=number, enabled=True)
        .values_list("number", flat=True)
        .first()
    )
