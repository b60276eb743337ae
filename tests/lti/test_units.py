"""Units of the pages that need no database: item statistics, histogram bands, cookie
attributes for cross-site launches, and where sign-in links may lead."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask

from service.pages.sessions import configure_cookies, cookie_options, safe_next
from service.pages.stats import histogram, question_stats


def test_discrimination_is_the_upper_minus_lower_27_percent() -> None:
    questions = [SimpleNamespace(id=i, points=float(i), slug=f"q{i}", title=f"Q{i}")
                 for i in (1, 2, 3)]  # fmt: skip
    # Best scores of students 1..4. Q2 and Q3 rank them 1 < 2 < 3 < 4 (totals 0.5, 1, 2, 2.5
    # in fractions); the groups are round(0.27 * 4) = 1 student each: student 1 and student 4.
    best = {
        (1, 1): 1.0, (2, 1): 0.0, (3, 1): 0.0,
        (1, 2): 1.0, (2, 2): 0.0,
        (1, 3): 0.0, (2, 3): 2.0, (3, 3): 3.0,
        (1, 4): 0.0, (2, 4): 2.0, (3, 4): 3.0,
    }  # fmt: skip
    per_pair = {key: (score, 1 + key[1] % 2) for key, score in best.items()}
    q1, q2, q3 = question_stats(questions, [1, 2, 3, 4], per_pair)  # type: ignore[arg-type]
    assert (q1.answered, q2.answered, q3.answered) == (4, 4, 3)
    assert q1.difficulty == 0.5 and q2.difficulty == 0.5 and q3.difficulty == pytest.approx(2 / 3)
    assert q1.discrimination == -1.0  # the weakest got it right, the strongest wrong
    assert q2.discrimination == 1.0
    assert q3.discrimination == 1.0  # student 1 never answered it: counted as 0
    assert q1.mean_attempts == 1.5 and q3.mean_attempts == pytest.approx(5 / 3)


def test_histogram_bands() -> None:
    assert histogram([0.0, 9.99, 10.0, 55.0, 100.0, None]) == [2, 1, 0, 0, 0, 1, 0, 0, 0, 1]


@pytest.mark.parametrize(
    ("public_url", "expected"),
    [
        ("https://holdout.example.edu", {"secure": True, "samesite": "None", "partitioned": True}),
        ("", {"secure": False, "samesite": "Lax", "partitioned": False}),
    ],
)
def test_cookies_survive_a_cross_site_launch_over_https(
    monkeypatch: pytest.MonkeyPatch, public_url: str, expected: dict[str, Any]
) -> None:
    """An LMS posts the launch from another site, often in an iframe: over https the cookies
    must be SameSite=None; Secure; Partitioned to come back."""
    monkeypatch.setenv("HOLDOUT_PUBLIC_URL", public_url)
    bare = Flask(__name__)
    configure_cookies(bare)
    with bare.app_context():
        assert cookie_options() == {**expected, "httponly": True}
    assert bare.config["SESSION_COOKIE_SAMESITE"] == expected["samesite"]


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil", "//["])
def test_safe_next_keeps_links_on_site(target: str) -> None:
    assert safe_next(target) == "/app/"
