"""X's weighted count (twitter-text v3): what the bot checks before asking anyone to approve."""

import pytest

from bot.communicate.weighted import MAX_WEIGHTED, measure, weighted_length


@pytest.mark.parametrize(
    ("text", "weighted"),
    [
        ("Atrium is down", 14),
        ("a" * 280, 280),
        ("日本語", 6),  # CJK weighs 2
        ("한국어 상태", 11),  # Hangul too (the space weighs 1)
        ("é", 1),
        ("e\u0301", 1),  # NFC-normalised first: e + combining accent is one é
        ("—", 1),  # the em dash is in X's light range
        ("…", 2),  # the ellipsis is not
        ("👍", 2),
        ("👍🏽", 2),  # skin tone: one emoji
        ("👨\u200d👩\u200d👧", 2),  # a ZWJ family: one emoji
        ("🇫🇷", 2),  # a flag: two regional indicators, one emoji
        ("1️⃣", 2),  # a keycap
        ("⚠️ down", 7),
        ("©", 1),  # the text symbol alone is light...
        ("©️", 2),  # ...its emoji presentation is an emoji
    ],
)
def test_characters_weigh_as_x_weighs_them(text, weighted):
    assert weighted_length(text) == weighted


def test_a_link_counts_23_however_long_it_is():
    short, long = "https://a.io", "https://status.atrium.example/incidents/" + "x" * 200
    assert weighted_length(f"see {short} now") == 4 + 23 + 4
    assert weighted_length(f"see {long} now") == 4 + 23 + 4


def test_a_bare_domain_is_a_link_and_trailing_punctuation_is_not_part_of_it():
    assert weighted_length("status: atrium.xyz/incidents.") == len("status: ") + 23 + 1


def test_an_email_address_is_not_counted_as_a_link():
    assert weighted_length("ops@atrium.xyz") == len("ops@atrium.xyz")


def test_280_light_characters_fit_and_281_do_not():
    assert measure("a" * MAX_WEIGHTED).fits
    over = measure("a" * (MAX_WEIGHTED + 1))
    assert not over.fits and over.over == 1
    assert "281/280" in over.problem() and "shorten it by 1" in over.problem()


def test_140_cjk_characters_are_a_full_post():
    assert measure("漢" * 140).fits
    assert measure("漢" * 141).over == 2


def test_an_empty_post_is_a_problem_too():
    assert measure("   ").problem() == "The post is empty."
