"""Point discord.py at a Discord API (the real one by default, or the sandbox).

discord.py builds every REST URL from the class attribute ``Route.BASE`` (the
interaction/webhook adapter uses the same ``Route``) and opens the gateway at
``DiscordWebSocket.DEFAULT_GATEWAY`` (a plain ``Client`` never asks
``/gateway/bot``). Both are process-wide class attributes, so this is the one
place that sets them, from settings, before the client logs in.
"""

from __future__ import annotations

import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

DISCORD_API_BASE = "https://discord.com/api/v10"
DISCORD_GATEWAY_URL = "wss://gateway.discord.gg/"


def use_endpoints(api_base: str, gateway_url: str) -> None:
    """Send every REST call to ``api_base`` and open the gateway at ``gateway_url``."""
    Route.BASE = api_base.rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
