"""Errors every driver maps the switch's failures to (SW-1, SW-4).

Drivers translate; callers above the driver only ever see these.
"""

from __future__ import annotations


class SwitchControlError(Exception):
    """Base of every call-control error."""


class NoSuchCall(SwitchControlError):
    """The leg/bridge/recording named does not exist (any more) on the switch."""


class CommandRejected(SwitchControlError):
    """The switch refused the operation in the current state (e.g. 409/422, ``-ERR``)."""


class SwitchUnavailable(SwitchControlError):
    """The switch cannot be reached (connection refused, dropped, timed out)."""


class OriginateFailed(CommandRejected):
    """An originate did not produce an answered leg; ``cause`` is the normalized hangup cause."""

    def __init__(self, cause: str, detail: str = "") -> None:
        super().__init__(f"originate failed: {cause}" + (f" ({detail})" if detail else ""))
        self.cause = cause
        self.detail = detail


class ContractError(ValueError):
    """A message on the bus is malformed, unknown or of an unsupported schema version."""
