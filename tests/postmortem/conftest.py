"""The end-to-end fixtures (a sandbox world, the real bot in it, the control API) for
the postmortem tests that drive ``/incident postmortem`` and ``follow-up`` in the sandbox."""

from tests.e2e.conftest import bot, control, overlay, world

__all__ = ["bot", "control", "overlay", "world"]
