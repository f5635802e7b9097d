"""In-house asyncio ARI client over aiohttp (REST with keep-alive + the events websocket)."""

from .client import AriClient, AriConfig
from .models import AriEvent, Channel, parse_event

__all__ = ["AriClient", "AriConfig", "AriEvent", "Channel", "parse_event"]
