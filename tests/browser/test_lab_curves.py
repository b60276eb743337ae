"""End to end in headless Chromium against gunicorn: a student opens a graded lab submission and
sees both loss curves of each run (baseline, theirs, the reference) as SVG, the best and the
stopping epoch marked, and the numbers in tables; a screenshot of it is saved (docs/lab-curves.png
in the README is one)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, expect

from tests.browser.conftest import Deployment
from tests.jobs.processes import holdout

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]
ROOT = Path(__file__).resolve().parents[2]


def graded_lab_submission(deployment: Deployment, student: str) -> int:
    done = subprocess.run(
        [sys.executable, "-m", "tests.browser.lab_fixture", student, "dropout"],
        env=deployment.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return int(done.stdout.split()[-1])


def test_a_graded_lab_submission_shows_its_curves_and_marked_epochs(
    deployment: Deployment, browser: Browser
) -> None:
    token = holdout(deployment.env, "token", "create", "--role", "student", "--name", "alice")
    headers = {"Authorization": f"Bearer {token.splitlines()[-1]}"}
    submission = graded_lab_submission(deployment, "alice")
    api = requests.get(f"{deployment.base}/api/v1/submissions/{submission}", headers=headers)
    assert api.status_code == 200 and api.json()["epochs"]["yours"] == {"best": 8, "stopped": 13}
    link = requests.post(
        f"{deployment.base}/api/v1/sign-in-links",
        json={"next": f"/app/submissions/{submission}"},
        headers=headers,
        timeout=10,
    )
    assert link.status_code == 201, link.text

    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(link.json()["url"])
    page.get_by_role("button", name="Continue as alice").click()
    expect(page).to_have_url(f"{deployment.base}/app/submissions/{submission}")
    section = page.locator("section.lab")
    expect(section.get_by_role("heading", name="Training curves")).to_be_visible()

    # One chart per run, each an image named by its caption and described in words.
    for title in ("Baseline", "Your run", "Reference"):
        chart = section.get_by_role("img", name=f"{title}: loss per epoch")
        expect(chart).to_be_visible()
        expect(chart.locator("g.series.train path")).to_have_count(1)
        expect(chart.locator("g.series.val path")).to_have_count(1)
        assert chart.locator("desc").text_content().startswith(f"{title}, ")  # type: ignore[union-attr]
    yours = section.get_by_role("img", name="Your run: loss per epoch")
    expect(yours.locator('g.mark.best[data-epoch="8"]')).to_have_count(1)
    expect(yours.locator('g.mark.stopped[data-epoch="13"]')).to_have_count(1)
    expect(yours.locator("g.mark.best text")).to_have_text("best 8")
    expect(yours.locator("g.mark.stopped text")).to_have_text("stopped 13")
    baseline = section.get_by_role("img", name="Baseline: loss per epoch")
    expect(baseline.locator('g.mark.best[data-epoch="5"]')).to_have_count(1)
    expect(baseline.locator("g.mark.stopped")).to_have_count(0)  # it ran every epoch
    reference = section.get_by_role("img", name="Reference: loss per epoch")
    expect(reference.locator('g.mark.stopped[data-epoch="12"]')).to_have_count(1)
    # The lines are drawn: a path with a point per epoch.
    d = yours.locator("g.series.val path").get_attribute("d") or ""
    assert d.count("M") == 1 and d.count("L") == 12

    # The marked epochs as a table; every epoch's numbers behind a disclosure.
    epochs = section.locator("table.lab-epochs")
    row = epochs.locator('tr[data-run="yours"]')
    expect(row.locator("td.best")).to_have_text("8")
    expect(row.locator("td.stopped")).to_have_text("13")
    expect(epochs.locator('tr[data-run="baseline"] td.stopped')).to_have_text("not stopped")
    section.screenshot(path=str(deployment.shots / "lab-curves.png"))  # docs/lab-curves.png
    series = section.locator("table.lab-series")
    expect(series).to_be_hidden()
    section.get_by_text("The numbers: every epoch of every run").click()
    expect(series).to_be_visible()
    expect(series.locator("tbody tr")).to_have_count(20)
    expect(series.locator("tbody tr").nth(7).locator("td").last).to_have_text(
        "Your run: best; Reference: best"
    )
    page.screenshot(path=str(deployment.shots / "lab-curves-page.png"), full_page=True)
    context.close()
