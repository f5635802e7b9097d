"""Asterisk driver: ``CallControl`` over ARI (+ AMI for what ARI lacks)."""

from .driver import AsteriskDriver, media_uri

__all__ = ["AsteriskDriver", "media_uri"]
