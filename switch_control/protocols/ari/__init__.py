"""In-house asyncio ARI client: REST over a swappable transport (our keep-alive HTTP/1.1
client by default), the events websocket over aiohttp."""

from .client import AriClient, AriConfig, AriRefused, AriUnanswered
from .models import AriEvent, Channel, parse_event
from .transport import AiohttpTransport, MemoryTransport, RestTransport

__all__ = [
    "AiohttpTransport",
    "AriClient",
    "AriConfig",
    "AriEvent",
    "AriRefused",
    "AriUnanswered",
    "Channel",
    "MemoryTransport",
    "RestTransport",
    "parse_event",
]
