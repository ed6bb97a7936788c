"""Python client for mmo_platform: what the tests and the load benchmarks play with.

``PlatformAPI`` logs in through the REST API (allauth app tokens), lists/creates characters and
asks to join the world; ``WorldClient`` speaks the WebSocket protocol of docs/protocol.md over
a lean RFC 6455 connection (``wire``); ``behaviours`` holds scripted play: ``wander`` and
``follow``, on a ``Walker`` that keeps the client's own position and correction id. Pure
asyncio, no Django import: a bot process needs nothing but this package, httpx and
orjson/ormsgpack (websockets only for its C masking helper, when installed).
"""

from mmo_client.behaviours import Walker, follow, walker_for, wander
from mmo_client.http import JoinTicket, PlatformAPI, PlatformError
from mmo_client.wire import ConnectionLost, HandshakeFailed
from mmo_client.world import WorldClient, WorldClosed

__all__ = [
    "ConnectionLost",
    "HandshakeFailed",
    "JoinTicket",
    "PlatformAPI",
    "PlatformError",
    "Walker",
    "WorldClient",
    "WorldClosed",
    "follow",
    "walker_for",
    "wander",
]
