"""Expected errors: their message is written for the person who ran the command."""

from __future__ import annotations


class UserError(Exception):
    """Something the person can fix; the message says what and how."""


class NotAllowed(UserError):
    """The person may not do this; the message says who may."""


class NotFound(UserError):
    """An incident, member or channel that does not exist."""


class Conflict(UserError):
    """The incident is not in a state where this makes sense."""


class WrongChannel(UserError):
    """A command that needs an incident channel was used elsewhere."""


class ExternalServiceError(Exception):
    """Discord, GitHub, X or the chain failed; the action stays pending and is retried."""
