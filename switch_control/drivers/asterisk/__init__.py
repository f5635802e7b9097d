"""Asterisk driver: ``CallControl`` over ARI (+ AMI for what ARI lacks). The parts and
what each does: ``driver``'s docstring."""

from .driver import AsteriskDriver
from .media import media_uri

__all__ = ["AsteriskDriver", "media_uri"]
