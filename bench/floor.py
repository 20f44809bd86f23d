"""The floor for the triage benchmark: a bare discord.py client doing the minimum.

On a message ``floor-go N`` it creates a channel, sends a message pinging a
member, and pins it: the three REST calls any bot must make to open an incident
channel and ping someone. Run as its own process against the sandbox:
``python -m bench.floor CONFIG.toml MEMBER_ID``.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import discord

from bot.adapters.discord_endpoints import use_endpoints


def main() -> None:
    config_path, member_id = Path(sys.argv[1]), int(sys.argv[2])
    config = tomllib.loads(config_path.read_text())
    secrets = dict(
        line.split("=", 1)
        for line in (config_path.parent / config["secrets_file"]).read_text().splitlines()
        if "=" in line
    )
    use_endpoints(config["discord"]["api_base"], config["discord"]["gateway_url"])
    intents = discord.Intents.default()
    intents.message_content = True
    client = discord.Client(intents=intents, guild_ready_timeout=0.1)

    @client.event
    async def on_ready() -> None:
        print("floor ready", flush=True)

    @client.event
    async def on_message(message: discord.Message) -> None:
        if not message.content.startswith("floor-go "):
            return
        number = message.content.split()[1]
        channel = await message.guild.create_text_channel(f"floor-{number}")
        ping = await channel.send(
            f"<@{member_id}> you are the incident commander for floor {number}"
        )
        await ping.pin()

    client.run(secrets["INCIDENT_BOT_DISCORD_TOKEN"].strip(), log_handler=None)


if __name__ == "__main__":
    main()
