"""Drills (issue 15): the bot as its own process, crashed and starved from outside."""
