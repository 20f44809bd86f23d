"""The duplicate rule: which declared titles match an open incident's."""

from bot.triage.rules import is_duplicate_title, normalised_title


def test_case_punctuation_and_spacing_do_not_count():
    assert normalised_title("  API   Down!! ") == "api down"
    assert is_duplicate_title("api  DOWN", "API down!")
    assert is_duplicate_title("Ｗithdrawals failing", "withdrawals failing")  # full-width W


def test_different_words_are_different_incidents():
    assert not is_duplicate_title("API down", "API slow")
    assert not is_duplicate_title("API down in EU", "API down")
