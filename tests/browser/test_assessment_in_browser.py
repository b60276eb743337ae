"""A timed, due-dated quiz in headless Chromium, as a student takes it: the rules (time limit, due
date, late penalty) before starting, a running countdown, answers saved with no score or verdict
while the attempt is open, and a review with the question, the answer and the correct answer
once it is handed in."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import requests
from playwright.sync_api import Browser, expect

from tests.browser.conftest import Deployment
from tests.jobs.processes import holdout
from tests.service.samples import SINGLE

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


def bearer(deployment: Deployment, role: str, name: str) -> dict[str, str]:
    made = holdout(deployment.env, "token", "create", "--role", role, "--name", name)
    return {"Authorization": f"Bearer {made.splitlines()[-1]}"}


def test_a_student_takes_a_timed_quiz_and_sees_the_review_only_after(
    deployment: Deployment, browser: Browser
) -> None:
    api = f"{deployment.base}/api/v1"
    instructor = bearer(deployment, "instructor", "ida")
    student = bearer(deployment, "student", "Sam")
    made = requests.post(f"{api}/questions", json=SINGLE, headers=instructor, timeout=30)
    assert made.status_code == 201, made.text
    quiz = {
        "slug": "timed-check",
        "title": "Timed check",
        "course": "reg-101",
        "questions": [SINGLE["slug"]],
        "time_limit_minutes": 30,
        "due_at": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
        "late_penalty": 0.25,
    }
    made = requests.post(f"{api}/quizzes", json=quiz, headers=instructor, timeout=30)
    assert made.status_code == 201, made.text
    link = requests.post(f"{api}/sign-in-links", json={}, headers=student, timeout=30)
    assert link.status_code == 201, link.text

    page = browser.new_context().new_page()
    page.goto(link.json()["url"])
    page.get_by_role("button", name="Continue as Sam").click()
    page.goto(f"{deployment.base}/app/quizzes/timed-check")

    # The rules, before the first answer.
    expect(page.get_by_text("30 minutes per attempt")).to_be_visible()
    rules = page.get_by_role("list", name="Rules")
    expect(rules).to_contain_text("answers given later lose 25% of their score")
    expect(rules).to_contain_text("When the time is up, the attempt is handed in")
    page.get_by_role("button", name="Start the quiz").click()

    # The clock runs in the page.
    timer = page.get_by_role("timer")
    expect(timer).to_have_text(re.compile(r"Time left: (29|30) min \d\d s\."))
    first = timer.text_content()
    page.wait_for_timeout(1500)
    assert timer.text_content() != first
    page.screenshot(path=str(deployment.shots / "assessment-1-attempt.png"), full_page=True)

    # Saved, not judged: no score, no verdict, no explanation while the attempt is open.
    page.get_by_label("Nothing").check()
    page.get_by_role("button", name="Save answers").click()
    expect(page.get_by_label("Nothing")).to_be_checked()
    body = page.locator("main").inner_text()
    for revealing in ("Correct answer", "Correct.", SINGLE["explanation"]):
        assert revealing not in body, revealing
    expect(page.locator(".badge")).to_have_count(0)

    page.get_by_role("button", name="Submit the attempt").click()
    expect(page.get_by_role("heading", name=re.compile("Timed check: attempt 1"))).to_be_visible()
    review = page.locator(".quiz-question.review")
    expect(review.get_by_role("heading", name=re.compile(SINGLE["title"]))).to_be_visible()
    expect(review.locator(".your-answer")).to_contain_text("Nothing")
    expect(review.locator(".correct-answer")).to_contain_text("Nothing")
    expect(page.locator(".score .badge").first).to_contain_text("2 / 2 points")
    page.screenshot(path=str(deployment.shots / "assessment-2-review.png"), full_page=True)
