"""The redaction filter on its own: no secret reaches a log line, whatever carries it."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from bot.logs import REDACTED, RedactSecrets, add_secret_filter

TOKEN = "sandbox.Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Ng"
HMAC = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose one handler redacts, formatting as ``setup_logging`` does."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets([TOKEN, HMAC, "short"]))
    logger = logging.getLogger("tests.redaction")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield logger, out
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_a_secret_in_the_message_is_redacted(logged):
    logger, out = logged
    logger.info(f"connecting with {TOKEN} now")
    assert out.getvalue() == f"INFO tests.redaction: connecting with {REDACTED} now\n"


def test_a_secret_in_the_arguments_is_redacted(logged):
    logger, out = logged
    logger.warning("token=%s hmac=%r", TOKEN, HMAC)
    assert TOKEN not in out.getvalue() and HMAC not in out.getvalue()
    assert out.getvalue() == f"WARNING tests.redaction: token={REDACTED} hmac='{REDACTED}'\n"


def test_a_secret_split_across_arguments_is_redacted(logged):
    logger, out = logged
    half = len(TOKEN) // 2
    logger.info("%s%s", TOKEN[:half], TOKEN[half:])
    assert TOKEN not in out.getvalue()
    assert REDACTED in out.getvalue()


def test_a_secret_in_mapping_arguments_is_redacted(logged):
    logger, out = logged
    logger.info("headers %(auth)s", {"auth": f"Bot {TOKEN}"})
    assert out.getvalue() == f"INFO tests.redaction: headers Bot {REDACTED}\n"


def test_a_secret_in_an_exception_and_its_cause_is_redacted(logged):
    logger, out = logged
    try:
        try:
            raise KeyError(HMAC)
        except KeyError as cause:
            raise RuntimeError(f"login failed for {TOKEN}") from cause
    except RuntimeError:
        logger.exception("the gateway refused us")
    text = out.getvalue()
    assert "the gateway refused us" in text and "RuntimeError: login failed for" in text
    assert "KeyError" in text
    assert TOKEN not in text and HMAC not in text


def test_exception_text_formatted_by_an_earlier_handler_is_redacted_too(logged):
    logger, out = logged
    plain = io.StringIO()
    first = logging.StreamHandler(plain)  # no filter: formats, and caches exc_text on the record
    first.setLevel(logging.CRITICAL + 1)  # ...but writes nothing, so nothing leaks here
    logger.handlers.insert(0, first)
    try:
        raise ValueError(TOKEN)
    except ValueError as error:
        record = logger.makeRecord(
            logger.name, logging.ERROR, __file__, 1, "boom", (), (type(error), error, None)
        )
    record.exc_text = logging.Formatter().formatException(record.exc_info)
    logger.handle(record)
    assert "boom" in out.getvalue() and TOKEN not in out.getvalue()


def test_a_secret_in_stack_info_is_redacted(logged):
    logger, out = logged
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 1, "where", (), None)
    record.stack_info = f'Stack (most recent call last):\n  File "x.py", line 1\n    {TOKEN}'
    logger.handle(record)
    assert "where" in out.getvalue() and TOKEN not in out.getvalue()


def test_arguments_that_do_not_fit_the_message_neither_raise_nor_leak(logged, capsys):
    logger, out = logged
    logger.info("count %d", TOKEN)  # a bug in a log call must not become a crash or a leak
    logger.info("two %s %s", TOKEN)
    text = out.getvalue() + capsys.readouterr().err
    assert TOKEN not in text
    assert "count %d" in text and "two %s %s" in text


def test_a_non_string_message_is_redacted(logged):
    logger, out = logged
    logger.error(RuntimeError(f"bad token {TOKEN}"))
    assert out.getvalue() == f"ERROR tests.redaction: bad token {REDACTED}\n"


def test_longer_secrets_are_replaced_first_and_short_values_are_not_secrets(logged):
    logger, _ = logged
    filter_ = RedactSecrets(["abcdefgh", "abcdefghijkl"])
    record = logger.makeRecord(
        logger.name, logging.INFO, __file__, 1, "abcdefghijkl short", (), None
    )
    filter_.filter(record)
    assert record.getMessage() == f"{REDACTED} short"


def test_a_line_without_secrets_is_left_as_it_is(logged):
    logger, out = logged
    logger.info("ready in guild %s as %s", "Atrium", "bot#0001")
    assert out.getvalue() == "INFO tests.redaction: ready in guild Atrium as bot#0001\n"


def test_add_secret_filter_covers_handlers_someone_else_installed():
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        add_secret_filter([TOKEN])
        logging.getLogger("tests.redaction.other").error("token %s", TOKEN)
    finally:
        root.removeHandler(handler)
    assert out.getvalue() == f"token {REDACTED}\n"
