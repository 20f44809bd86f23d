"""The end-to-end fixtures (a sandbox world, the real bot in it, the control API) for
the mitigate tests that drive ``/incident playbook`` in the sandbox."""

from tests.e2e.conftest import bot, control, overlay, world

__all__ = ["bot", "control", "overlay", "world"]
