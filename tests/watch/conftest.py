"""The chain watch's fixtures: the mitigate phase's (a session anvil, a fresh deployment
per test, a world with that chain, the real bot in it)."""

from tests.mitigate.conftest import *  # noqa: F403
