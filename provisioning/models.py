"""What the switch is told about: access numbers (SW-5, ADM-2).

Agents' extensions and SIP passwords live on ``acd.AgentProfile``; FreeSWITCH reads both
through the mod_xml_curl view (``provisioning.views``)."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

# 400/800 numbers, 95xxx short codes, local DIDs with or without the country code
access_number_validator = RegexValidator(
    r"^\+?[0-9]{3,31}$", _("Digits only, optionally with a leading + (3 to 31 digits).")
)


class AccessNumber(models.Model):
    """A number callers dial to reach the site: a DID, a 400/800 number or a 95xxx code.

    Calls to an enabled access number are parked for the controller with
    ``cc_access_number`` set, so the number can choose the IVR flow or queue (IVR-2)."""

    number = models.CharField(
        _("number"),
        max_length=32,
        unique=True,
        validators=[access_number_validator],
        help_text=_("As the trunk delivers it, e.g. 4008001234, 95555 or +861012345678."),
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("access number")
        verbose_name_plural = _("access numbers")
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.number} {self.description}".strip()
