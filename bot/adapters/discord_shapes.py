"""What the domain hands the Discord adapter: embeds and buttons, as plain values."""

from __future__ import annotations

from dataclasses import dataclass

import discord


@dataclass(frozen=True)
class ButtonSpec:
    label: str
    custom_id: str
    style: str = "primary"  # primary | secondary | success | danger
    emoji: str | None = None
    disabled: bool = False


@dataclass(frozen=True)
class Embed:
    title: str
    description: str
    colour: int = 0x5865F2
    fields: tuple[tuple[str, str, bool], ...] = ()
    footer: str | None = None
    url: str | None = None

    def to_discord(self) -> discord.Embed:
        embed = discord.Embed(
            title=self.title, description=self.description, colour=self.colour, url=self.url
        )
        for name, value, inline in self.fields:
            embed.add_field(name=name, value=value, inline=inline)
        if self.footer:
            embed.set_footer(text=self.footer)
        return embed


def view_of(buttons: tuple[ButtonSpec, ...]) -> discord.ui.View | None:
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for spec in buttons:
        view.add_item(
            discord.ui.Button(
                label=spec.label,
                custom_id=spec.custom_id,
                style=getattr(discord.ButtonStyle, spec.style),
                emoji=spec.emoji,
                disabled=spec.disabled,
            )
        )
    # Clicks are routed by custom_id to the cogs' dynamic items, not to this object.
    view.stop()
    return view
