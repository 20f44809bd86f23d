"""Fuzzing the running bot: the e2e fixtures (the real bot in a sandbox world), a log of
its errors, and the invariants every example must leave true."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import *  # noqa: F403


class ErrorLog(logging.Handler):
    """Every ERROR (or worse) any logger of the process writes while a test runs."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self) -> list[str]:
        return [
            f"{r.name}: {r.getMessage()}" + (f" ({r.exc_info[1]!r})" if r.exc_info else "")
            for r in self.records
        ]


@pytest.fixture
def errors() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
