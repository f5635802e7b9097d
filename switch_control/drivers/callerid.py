"""Caller ID names as the switches can carry them (SW-2).

A display name comes from people (CRM contacts, agents' names, the PSTN) and may hold
characters that the switches' own syntax uses: ``"`` and ``<>`` in Asterisk's
``"name" <number>``, commas, quotes and brackets in FreeSWITCH's ``{var=value,...}``.
Rather than refusing the call, they become their full-width look-alikes (natural in
Chinese text), control characters become spaces, and the name is capped at 64 chars.
"""

from __future__ import annotations

import re

_LOOK_ALIKES = str.maketrans(
    {
        ",": "，",
        "'": "’",
        '"': "”",
        "{": "（",
        "}": "）",
        "[": "（",
        "]": "）",
        "<": "＜",
        ">": "＞",
        "\\": "＼",
        "^": "＾",
    }
)
_SPACES = re.compile(r"[\s\x00-\x1f\x7f]+")
MAX_NAME = 64


def safe_caller_name(name: str) -> str:
    """``name`` with the characters switch syntax reserves replaced (see the module)."""
    return _SPACES.sub(" ", name.translate(_LOOK_ALIKES)).strip()[:MAX_NAME]
