"""The end-to-end fixtures for this phase's tests that drive its commands in the sandbox."""

from tests.e2e.conftest import *  # noqa: F403  (every e2e fixture, as the e2e tests get them)
