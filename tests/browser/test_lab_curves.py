"""End to end in headless Chromium against gunicorn (embedded grading, the real sandbox): an
instructor puts the bundled `lab-regularized-network` lab (dropout, weight decay, early stopping)
in a course's quiz; a student answers it in an attempt through the API, it is graded by training
the network with their code, and the submission page shows both loss curves of each run
(baseline, theirs, the reference) as SVG, the best and the stopping epochs marked, and the
numbers in tables, all as the API's `curves` and `epochs` say; the instructor's course page
shows the class's final validation loss. Screenshots are saved (docs/lab-curves.png in the README
is one)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from question_bank.loader import BUNDLED_DIR
from tests.browser.conftest import Deployment
from tests.jobs.processes import holdout

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]
LAB = "lab-regularized-network"
COURSE = "lab-course"
GRADING_SECONDS = 180
TITLES = {"baseline": "Baseline", "yours": "Your run", "reference": "Reference"}


def person(deployment: Deployment, role: str, name: str) -> dict[str, str]:
    token = holdout(deployment.env, "token", "create", "--role", role, "--name", name)
    return {"Authorization": f"Bearer {token.splitlines()[-1]}"}


def call(
    deployment: Deployment, method: str, path: str, headers: dict[str, str], **body: Any
) -> Any:
    answer = requests.request(
        method, f"{deployment.base}/api/v1{path}", json=body or None, headers=headers, timeout=30
    )
    assert answer.status_code in (200, 201, 202), answer.text
    return answer.json()


def graded_in_a_quiz(
    deployment: Deployment, teacher: dict[str, str], headers: dict[str, str]
) -> dict[str, Any]:
    """The instructor puts the lab in a quiz of a course; the student answers it with the lab's
    reference code in an attempt, hands the attempt in, and waits (long polls) for the grade."""
    quiz = {"slug": "lab-quiz", "title": "The lab", "course": COURSE, "questions": [LAB]}
    call(deployment, "POST", "/quizzes", teacher, **quiz)
    attempt = call(deployment, "POST", "/quizzes/lab-quiz/attempts", headers)
    code = (BUNDLED_DIR / "exercises" / LAB / "reference.py").read_text()
    answered = call(
        deployment, "PUT", f"/attempts/{attempt['id']}/answers/{LAB}", headers, answer=code
    )
    call(deployment, "POST", f"/attempts/{attempt['id']}/submit", headers)
    for _ in range(GRADING_SECONDS // 30):
        body: dict[str, Any] = call(
            deployment, "GET", f"/submissions/{answered['id']}?wait=30", headers
        )
        if body["status"] in ("graded", "failed"):
            return body
    raise AssertionError(f"not graded in {GRADING_SECONDS} s: {body}")


def open_page(
    browser: Browser, deployment: Deployment, headers: dict[str, str], path: str, name: str
) -> Page:
    link = requests.post(
        f"{deployment.base}/api/v1/sign-in-links", json={"next": path}, headers=headers, timeout=10
    )
    assert link.status_code == 201, link.text
    page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    page.goto(link.json()["url"])
    page.get_by_role("button", name=f"Continue as {name}").click()
    expect(page).to_have_url(f"{deployment.base}{path}")
    return page


def check_curves(page: Page, submission: dict[str, Any]) -> None:
    """Each run of the API's `curves` is a chart with its two lines and its marked epochs, and a
    row of the marked-epochs table, as the API's `epochs` says."""
    section = page.locator("section.lab")
    expect(section.get_by_role("heading", name="Training curves")).to_be_visible()
    for run, series in submission["curves"].items():
        title, marks = TITLES[run], submission["epochs"][run]
        chart = section.get_by_role("img", name=f"{title}: loss per epoch")
        expect(chart).to_be_visible()
        for line in ("train", "val"):
            path = chart.locator(f"g.series.{line} path")
            expect(path).to_have_count(1)
            d = path.get_attribute("d") or ""
            points = sum(v is not None for v in series[line])
            assert d.count("M") + d.count("L") == points, (run, line, d[:80])
        description = chart.locator("desc").text_content() or ""
        assert description.startswith(f"{title}, {len(series['val'])} of ")
        row = section.locator(f'table.lab-epochs tr[data-run="{run}"]')
        for mark in ("best", "stopped"):
            found = chart.locator(f"g.mark.{mark}")
            if marks[mark] is None:
                expect(found).to_have_count(0)
                continue
            expect(found).to_have_attribute("data-epoch", str(marks[mark]))
            expect(found.locator("text")).to_have_text(f"{mark} {marks[mark]}")
            expect(row.locator(f"td.{mark}")).to_have_text(str(marks[mark]))
        if marks["stopped"] is None:
            expect(row.locator("td.stopped")).to_have_text("not stopped")
    series_table = section.locator("table.lab-series")
    expect(series_table).to_be_hidden()
    section.get_by_text("The numbers: every epoch of every run").click()
    expect(series_table).to_be_visible()
    longest = max(len(s["val"]) for s in submission["curves"].values())
    expect(series_table.locator("tbody tr")).to_have_count(longest)
    first = series_table.locator("tbody tr").first.locator("td")
    expect(first.first).to_have_text(f"{submission['curves']['baseline']['train'][0]:.4f}")


def test_a_graded_lab_submission_shows_its_curves_and_marked_epochs(
    deployment: Deployment, browser: Browser
) -> None:
    teacher, headers = (
        person(deployment, "instructor", "prof"),
        person(deployment, "student", "alice"),
    )
    submission = graded_in_a_quiz(deployment, teacher, headers)
    assert submission["status"] == "graded", submission["feedback"]
    assert submission["score"] == submission["max_score"], submission["feedback"]
    assert set(submission["curves"]) == {"baseline", "yours", "reference"}
    epochs = submission["epochs"]
    assert all(marks["best"] for marks in epochs.values())
    assert epochs["yours"]["stopped"] and epochs["baseline"]["stopped"] is None
    page = open_page(browser, deployment, headers, f"/app/submissions/{submission['id']}", "alice")
    page.locator("section.lab").screenshot(path=str(deployment.shots / "lab-curves.png"))
    check_curves(page, submission)
    yours = page.get_by_role("img", name="Your run: loss per epoch")
    expect(yours.locator("g.mark.stopped")).to_have_attribute(
        "data-epoch", str(epochs["yours"]["stopped"])
    )
    page.screenshot(path=str(deployment.shots / "lab-curves-page.png"), full_page=True)
    page.context.close()

    # The instructor's course page: the class's final validation loss, as a chart and a table.
    page = open_page(browser, deployment, teacher, f"/app/courses/{COURSE}", "prof")
    labs = page.locator(
        "section", has=page.get_by_role("heading", name="Labs: final validation loss")
    )
    chart = labs.get_by_role("img", name=re.compile("final validation loss of the class"))
    expect(chart).to_be_visible()
    expect(chart.locator("rect.bar")).to_have_count(1)
    table = labs.locator("table.lab-losses")
    final = f"{submission['curves']['yours']['val'][-1]:.4f}"
    expect(table.locator("tfoot tr", has_text="Students").locator("td")).to_have_text("1")
    expect(table.locator("tfoot tr", has_text="Median").locator("td")).to_have_text(final)
    reference = f"{submission['curves']['reference']['val'][-1]:.4f}"
    expect(table.locator("tfoot tr", has_text="Reference run").locator("td")).to_have_text(
        reference
    )
    labs.screenshot(path=str(deployment.shots / "lab-class-distribution.png"))
    page.context.close()
