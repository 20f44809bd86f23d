"""The chain watch: admin events and outflows on the team's contracts, classified against the
actions approved through the bot; anything else declares a P0 (bot/watch/rules.py,
bot/watch/service.py)."""
