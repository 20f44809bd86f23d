"""The authorization matrix runs the real bot in the sandbox, like tests/e2e."""

from tests.e2e.conftest import *  # noqa: F403
