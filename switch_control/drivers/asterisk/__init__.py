"""Asterisk driver: ``CallControl`` over ARI (+ AMI for what ARI lacks)."""

from .core import media_uri
from .driver import AsteriskDriver

__all__ = ["AsteriskDriver", "media_uri"]
