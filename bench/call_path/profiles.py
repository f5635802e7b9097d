"""py-spy profiles of the controller and the projector, reduced to the sample counts the
report quotes (``model.ProfileSummary``)."""

from __future__ import annotations

from pathlib import Path

from bench import profile_parts

from .model import ProfileSummary

# samples whose stack holds any of these frames (path or function fragments), named as the
# findings quote them
CONTROLLER_MARKS: dict[str, tuple[str, ...]] = {
    "ami": ("panoramisk/", "protocols/ami"),
    "rest": ("AriClient.request",),
    "rest_send": ("_Conn.send",),
    "events": ("AriClient._ws_loop",),
    "parse_event": ("switch_control/protocols/ari/models.py",),
    "publisher": ("_publisher",),
}
PROJECTOR_MARKS: dict[str, tuple[str, ...]] = {
    "orm": ("django/db/",),
    "commit": ("BaseDatabaseWrapper._commit",),
    "rules": ("_Batch.apply",),
    "decode": ("switch_control/contract/codec.py",),
}
PROJECTOR_MINE = ("reports/", "switch_control/", "callcenter/", "django/db/")
TOP = 12


def summarize(
    prof: profile_parts.Profile,
    parts: tuple[str, ...],
    marks: dict[str, tuple[str, ...]],
    part_marks: dict[str, str] | None = None,
) -> ProfileSummary:
    """``part_marks``: marks that are a part's own samples (exclusive), not a stack match."""
    counted = {
        key: sum(n for stack, n in prof.stacks if any(f in stack for f in frags))
        for key, frags in marks.items()
    }
    for key, part in (part_marks or {}).items():
        counted[key] = prof.parts[part]
    return ProfileSummary(
        samples=prof.samples,
        parts=[(p, prof.parts[p]) for p in parts],
        leaf=prof.leaf.most_common(TOP),
        inclusive=prof.inclusive.most_common(TOP),
        marks=counted,
    )


def controller(path: Path) -> ProfileSummary:
    return summarize(profile_parts.parse(path), profile_parts.PARTS, CONTROLLER_MARKS)


def projector(path: Path) -> ProfileSummary:
    prof = profile_parts.parse(path, profile_parts.PROJECTOR_RULES, PROJECTOR_MINE)
    return summarize(
        prof,
        profile_parts.PROJECTOR_PARTS,
        PROJECTOR_MARKS,
        {"handoff": profile_parts.P_THREAD},
    )
