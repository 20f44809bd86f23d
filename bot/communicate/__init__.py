"""Procedure step 2, Communicate: the comms matrix run by the bot (internal posts, the GitHub
issue, status updates and reminders, X posts that go out only after a person approves)."""

from bot.communicate.service import CommsService, github_client, x_client

__all__ = ["CommsService", "github_client", "x_client"]
