"""End to end in headless Chromium against gunicorn: an instructor adds the dropout exercise from
the fake LMS through Deep Linking; a student launches it, submits code, watches it being graded,
sees per-test feedback and the history; the score reaches the LMS; the instructor's course page
shows the gradebook and statistics, exports it and regrades."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from grader import load_exercise
from question_bank.loader import BUNDLED_DIR
from tests.browser.conftest import Deployment
from tests.lti.platform import DL, SCORE_TYPE

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]
DROPOUT = BUNDLED_DIR / "exercises" / "dropout"
GRADING_MS = 90_000
EXERCISE = load_exercise(DROPOUT)
FULL = f"{EXERCISE.max_score:g} / {EXERCISE.max_score:g} points"


def start_launch(page: Page, deployment: Deployment, claims: dict[str, Any]) -> None:
    """The LMS sends the browser to the tool's login; the rest is the real OIDC flow."""
    hint = deployment.platform.prepare(claims)
    page.goto(f"{deployment.platform.base}/start/{hint}")


def shot(page: Page, deployment: Deployment, name: str) -> None:
    page.screenshot(path=str(deployment.shots / f"{name}.png"), full_page=True)


def test_deep_link_launch_submit_feedback_and_grade_passback(
    deployment: Deployment, browser: Browser
) -> None:
    platform = deployment.platform

    # 1. The instructor picks the dropout exercise (Deep Linking).
    prof = browser.new_context()
    page = prof.new_page()
    start_launch(page, deployment, platform.claims("prof", message_type="LtiDeepLinkingRequest"))
    expect(page.get_by_role("heading", name="Add holdout content to your course")).to_be_visible()
    shot(page, deployment, "1-deep-link-picker")
    page.get_by_label("Inverted dropout").check()
    page.get_by_role("button", name="Add to the course").click()
    expect(page.get_by_role("heading", name="Added: Inverted dropout")).to_be_visible()
    (response,) = platform.recorded.deep_links
    (item,) = response[DL + "content_items"]
    assert item["custom"] == {"question": "dropout"}
    assert item["url"] == f"{deployment.base}/lti/launch"

    # 2. A student opens the link the LMS made from it.
    alice = browser.new_context()
    page = alice.new_page()
    start_launch(page, deployment, platform.claims("alice", custom=item["custom"]))
    expect(page).to_have_url(f"{deployment.base}/app/questions/dropout")
    expect(page.get_by_role("heading", name="Inverted dropout", level=1)).to_be_visible()
    expect(page.locator(".prompt .katex").first).to_be_visible()  # the math is typeset
    editor = page.get_by_label(re.compile("Your code"))
    expect(editor).to_have_value(re.compile(r"def dropout\(x, p, training=True, rng=None\)"))
    shot(page, deployment, "2-question")

    # The editor indents with Tab; Esc then Tab leaves it for the submit button.
    editor.focus()
    page.keyboard.press("End")
    page.keyboard.press("Tab")
    assert editor.input_value().splitlines()[0].endswith("    ")
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Submit for grading")).to_be_focused()

    # 3. A correct answer: live status, then every test passed.
    status = page.get_by_role("status")
    editor.fill((DROPOUT / "reference.py").read_text())
    page.get_by_role("button", name="Submit for grading").click()
    expect(status).to_contain_text(f"Graded: {FULL}", timeout=GRADING_MS)
    expect(page.locator(".test.fail")).to_have_count(0)
    expect(page.locator(".test.pass")).to_have_count(len(EXERCISE.tests))
    expect(page.locator("#result")).to_contain_text(FULL)
    shot(page, deployment, "3-graded-full-marks")

    # 4. A wrong answer: the failed tests say why; the history holds both attempts.
    editor.fill((DROPOUT / "mutants" / "no_scaling.py").read_text())
    page.get_by_role("button", name="Submit for grading").click()
    expect(status).to_contain_text("Graded:", timeout=GRADING_MS)
    expect(status).not_to_contain_text(FULL)
    failed = page.locator(".test.fail")
    expect(failed.first).to_be_visible()
    expect(page.locator("#result")).to_contain_text("survivors are scaled by 1/(1-p)")
    expect(page.locator("#history tbody tr")).to_have_count(2)
    shot(page, deployment, "4-graded-with-failures")
    page.locator("#result").screenshot(path=str(deployment.shots / "4-result-detail.png"))

    # 5. The LMS got a score for each grade, the best one counting.
    scores = platform.wait_for_scores(2, seconds=60)
    assert all(s["content_type"] == SCORE_TYPE for s in scores)
    assert [s["body"]["scoreGiven"] for s in scores] == [EXERCISE.max_score] * 2
    assert {s["body"]["userId"] for s in scores} == {"user-alice-1"}
    assert len(platform.recorded.lineitem_posts) == 1

    # 6. The instructor opens the link: the course page, its export and a regrade.
    page = prof.new_page()
    start_launch(page, deployment, platform.claims("prof", custom=item["custom"]))
    expect(page.get_by_role("heading", name="Machine Learning 101")).to_be_visible()
    gradebook = page.locator("table.gradebook")
    expect(gradebook).to_contain_text("Alice Learner")
    expect(gradebook).to_contain_text(f"{EXERCISE.max_score:g}")
    expect(page.locator("figure.chart svg")).to_have_count(4)
    shot(page, deployment, "5-course-page")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export gradebook (CSV)").click()
    csv_text = open(download.value.path()).read()  # noqa: SIM115 - a temporary file
    assert csv_text.startswith("user_id,name") and "Alice Learner" in csv_text
    page.get_by_role("button", name="Regrade Inverted dropout").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Regrade of dropout finished: 2 submissions", timeout=GRADING_MS
    )

    # A person with no session sees a clear page, not an error dump.
    stranger = browser.new_context().new_page()
    stranger.goto(f"{deployment.base}/app/questions/dropout")
    expect(stranger.get_by_role("heading", name="Please sign in")).to_be_visible()
    shot(stranger, deployment, "6-not-signed-in")


def test_a_tampered_launch_is_refused_in_the_browser(
    deployment: Deployment, browser: Browser
) -> None:
    platform = deployment.platform
    page = browser.new_context().new_page()
    claims = platform.claims("alice", custom={"question": "dropout"})
    hint = platform.prepare(claims, tamper=lambda c: c.update(aud="someone-else"))
    page.goto(f"{platform.base}/start/{hint}")
    expect(page.get_by_role("heading", name="Invalid launch")).to_be_visible()
    expect(page.locator(".detail")).to_contain_text("meant for another tool")
    shot(page, deployment, "7-refused-launch")


def test_a_quiz_from_the_lms_is_answered_and_its_score_sent(
    deployment: Deployment, browser: Browser
) -> None:
    platform = deployment.platform
    page = browser.new_context().new_page()
    start_launch(page, deployment, platform.claims("bob", custom={"quiz": "dropout-mechanics"}))
    expect(page.get_by_role("heading", name="Dropout and inverted scaling")).to_be_visible()
    page.get_by_role("button", name="Start the quiz").click()
    expect(page.get_by_role("heading", name="Attempt 1")).to_be_visible()
    expect(page.locator(".quiz-question .katex").first).to_be_visible()
    shot(page, deployment, "8-quiz-attempt")
    page.locator("#answer-dropout-expected-value-b").check()  # the right choice
    page.get_by_label("Your answer").first.fill("3.75")  # the surviving activation, right
    page.get_by_role("button", name="Submit the attempt").click()
    expect(page.get_by_role("heading", name=re.compile("attempt 1"))).to_be_visible()
    shot(page, deployment, "9-quiz-result")
    shown = re.search(r"([\d.]+) / ([\d.]+) points", page.locator("p.score").first.inner_text())
    assert shown is not None and float(shown.group(1)) >= 2

    (score,) = platform.wait_for_scores(1, seconds=60)
    assert score["body"]["userId"] == "user-bob-2"
    assert score["body"]["scoreGiven"] == float(shown.group(1))
    assert score["body"]["scoreMaximum"] == float(shown.group(2))
