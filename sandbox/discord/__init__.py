"""A Discord emulator: REST API v10 and Gateway v10, wire-compatible with discord.py 2.7."""
