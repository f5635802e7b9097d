"""Phone numbers: normalization and caller region (CRM-1, ACD-4), region CN by default."""

from __future__ import annotations

import phonenumbers
from django.conf import settings


class InvalidPhoneNumber(ValueError):
    pass


def parse(number: str, region: str | None = None) -> phonenumbers.PhoneNumber:
    region = region or settings.PHONE_REGION
    cleaned = (number or "").strip()
    if not cleaned:
        raise InvalidPhoneNumber("empty phone number")
    try:
        parsed = phonenumbers.parse(cleaned, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"{number!r} is not a phone number: {exc}") from None
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidPhoneNumber(f"{number!r} is not a possible number in {region}")
    return parsed


def region_of(number: str, lang: str = "zh") -> str:
    """Where a number is from, e.g. '北京市' / 'Beijing'; '' when unknown or invalid.

    The geocoder's data is imported here, on first use: it costs ~100 MB of RSS, and every
    process that sets up Django imports this module (acd's validators), the controller
    included, which never asks for a region (bench: controller RSS 107 -> 195 MB)."""
    from phonenumbers import geocoder

    try:
        parsed = parse(number)
    except InvalidPhoneNumber:
        return ""
    return geocoder.description_for_number(parsed, lang) or ""
