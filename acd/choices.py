"""Choices shared by the ACD's models (ACD-1)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Strategy(models.TextChoices):
    """How a queue picks among its ready agents (ACD-1); the pure engine's names."""

    LONGEST_IDLE = "longest_idle", _("longest idle")
    ROUND_ROBIN = "round_robin", _("round robin")
    RING_ALL = "ring_all", _("ring all")
    FEWEST_CALLS = "fewest_calls", _("fewest calls")
    LEAST_TALK_TIME = "least_talk_time", _("least talk time")
    RANDOM = "random", _("random")
    LINEAR = "linear", _("linear (top-down)")
    SKILL_WEIGHTED = "skill_weighted", _("skill weighted")


UNKNOWN_STRATEGY = _("Unknown strategy “%(value)s”: choose one of the strategies in the list.")

# seeded by migration 0004 and ``seed_demo``: (code, Chinese name, English name)
DEFAULT_NOT_READY_REASONS = (
    ("busy", "示忙", "Busy"),
    ("break", "小休", "Break"),
    ("meal", "用餐", "Meal"),
    ("meeting", "会议", "Meeting"),
    ("training", "培训", "Training"),
)
