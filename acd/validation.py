"""Checks behind the ACD configuration's ``clean()`` methods (ACD-1, ACD-4, ACD-6, BL-2).

Kept apart from the models so each rule reads on its own and can be reused by imports
(Excel, API) that write configuration without the admin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.utils.translation import gettext_lazy as _

from callcenter.core.phones import InvalidPhoneNumber, parse

# zero or a negative time would make a timer fire at once or never: refused everywhere
at_least_one_second = MinValueValidator(
    1, _("Must be at least 1 second: zero or a negative time is not allowed.")
)

# China's provincial divisions as phonenumbers' Chinese geocoder writes them ("广东省深圳市")
CN_PROVINCES = (
    "北京市",
    "天津市",
    "上海市",
    "重庆市",
    "河北省",
    "山西省",
    "辽宁省",
    "吉林省",
    "黑龙江省",
    "江苏省",
    "浙江省",
    "安徽省",
    "福建省",
    "江西省",
    "山东省",
    "河南省",
    "湖北省",
    "湖南省",
    "广东省",
    "海南省",
    "四川省",
    "贵州省",
    "云南省",
    "陕西省",
    "甘肃省",
    "青海省",
    "台湾省",
    "内蒙古自治区",
    "广西壮族自治区",
    "西藏自治区",
    "宁夏回族自治区",
    "新疆维吾尔自治区",
    "香港特别行政区",
    "澳门特别行政区",
)


def normalize_number(raw: str) -> str:
    """A caller's number in E.164 (``+8613800138000``), parsed with ``PHONE_REGION``.

    ``013800138000``, ``+86 138 0013 8000`` and ``13800138000`` are one number; a
    refusal is a translated ``ValidationError``."""
    text = (raw or "").strip()
    candidates = [text]
    if text.startswith("0") and not text.startswith("00"):
        # a trunk prefix before a mobile (0 13800138000), as some PBXs present callers
        candidates.append(text[1:])
    fallback = None
    for candidate in candidates:
        try:
            parsed = parse(candidate)
        except InvalidPhoneNumber:
            continue
        if phonenumbers.is_valid_number(parsed):
            return _e164(parsed)
        fallback = fallback or parsed
    if fallback is None:
        raise ValidationError(
            _("“%(number)s” is not a phone number."),
            code="invalid_number",
            params={"number": raw},
        )
    return _e164(fallback)


def _e164(parsed: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_province(raw: str) -> str:
    """A province as the geocoder names it: ``广东`` -> ``广东省``, ``内蒙古`` -> ``内蒙古自治区``.

    Outside region CN the name is kept as typed."""
    name = raw.strip()
    if settings.PHONE_REGION.upper() != "CN":
        return name
    for full in CN_PROVINCES:
        if name == full or (len(name) >= 2 and full.startswith(name)):
            return full
    raise ValidationError(
        _("Unknown province “%(name)s”: use a name such as 广东省, 北京市 or 内蒙古自治区."),
        code="unknown_province",
        params={"name": raw},
    )


def normalize_city(raw: str) -> str:
    """``深圳`` -> ``深圳市`` (the geocoder's spelling); names already ending 市/州/盟/区 stay."""
    name = raw.strip()
    if not name or settings.PHONE_REGION.upper() != "CN":
        return name
    return name if name[-1] in "市州盟区县" else name + "市"


def reaches(start: int, goal: int, edges: Callable[[int], Iterable[int]]) -> list[int] | None:
    """The path ``start -> ... -> goal`` through ``edges``, or None (ACD-6 overflow loops).

    Breadth first, so the shortest loop is the one reported; each node is visited once,
    whatever the chain's length."""
    parents: dict[int, int | None] = {start: None}
    frontier = [start]
    while frontier:
        nxt: list[int] = []
        for node in frontier:
            for target in edges(node):
                if target in parents:
                    continue
                parents[target] = node
                if target == goal:
                    path = [target]
                    back = parents[target]
                    while back is not None:
                        path.append(back)
                        back = parents[back]
                    return path[::-1]
                nxt.append(target)
        frontier = nxt
    return None


def overflow_loop(source: int, target: int, graph: Mapping[int, Iterable[int]]) -> list[int] | None:
    """The loop a rule ``source -> target`` would close, as queue ids from source back to it.

    ``graph`` holds the other queues' overflow targets; the source's own rules are left
    out (a path back to the source ends there), so a formset adding several rules to one
    queue at once is judged correctly."""
    if source == target:
        return [source, source]
    path = reaches(target, source, lambda q: () if q == source else graph.get(q, ()))
    return None if path is None else [source, *path]
