"""A lab submission's training curves: stored through the grade writer from a grade report's
`lab` (checked: NaN, inf and anything not a number become gaps), returned by the API as
`curves` and `epochs` (absent for other submissions and while feedback is hidden), drawn on the
submission and question pages as accessible SVG with data tables, and summarised on the
instructor's course page as the class's distribution of final validation loss, counting only
the course's submissions within the caller's scope."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.attempts import start_attempt, submit_attempt
from service.auth import get_or_create_user
from service.grades import grade_result, write_grade
from service.labs import clean_lab, final_validation_loss
from service.models import Role, Submission, SubmissionStatus, db
from service.pages import charts
from service.pages.labs import lab_figure
from service.pages.stats import loss_bands
from service.questions import find_question
from service.quizzes import save_quiz
from service.submissions import create_submission
from tests.helpers import assert_problem, bearer
from tests.jobs.conftest import load_exercise_question
from tests.lti.test_pages import sign_in
from tests.service.lab_samples import EPOCHS, lab_report


def graded(app: Flask, name: str, lab: dict[str, Any] | None, quiz: str | None = None) -> int:
    """A dropout submission by this student, graded through the grade writer with this report's
    `lab` (in an attempt at `quiz`, handed in, if given)."""
    with app.app_context():
        user = get_or_create_user(name, Role.STUDENT)
        question = find_question("dropout")
        assert question is not None
        attempt = None
        if quiz is not None:
            from service.models import Quiz

            found = db.session.query(Quiz).filter_by(slug=quiz).one()
            attempt, _ = start_attempt(user, found)
        submission = create_submission(
            user, question, "def dropout(x, p):\n    return x\n", attempt
        )
        db.session.flush()
        result = grade_result(SubmissionStatus.GRADED, 7.0, [], "Lab graded.", lab=lab)
        assert write_grade(submission, result)
        if attempt is not None:
            submit_attempt(attempt)
        db.session.commit()
        return submission.id


@pytest.fixture
def lab_app(app: Flask) -> Flask:
    load_exercise_question(app)
    return app


# --- what is kept --------------------------------------------------------------------------


def test_clean_lab_keeps_known_runs_and_numbers_and_turns_the_rest_into_gaps() -> None:
    cleaned = clean_lab(lab_report())
    assert cleaned is not None
    assert list(cleaned["curves"]) == ["baseline", "yours", "reference"]
    yours = cleaned["curves"]["yours"]
    assert set(yours) == {"train", "val"}
    assert yours["val"][8:12] == [None, None, None, None]  # NaN, inf, a string, a boolean
    assert yours["val"][7] == 0.38
    assert cleaned["curves"]["reference"]["val_acc"] == [0.8] * 12
    assert cleaned["epochs"]["yours"] == {"best": 8, "stopped": 13}
    assert cleaned["epochs"]["reference"] == {"best": 8, "stopped": 12}
    assert cleaned["epochs"]["baseline"] == {"best": 5, "stopped": None}
    # Marked epochs outside the run, or not whole numbers, are dropped.
    odd = clean_lab(
        {
            "curves": {"yours": {"train": [1.0, 0.5], "val": [1.0, 0.9]}},
            "epochs": {"yours": {"best": 3, "stopped": 1.5}},
        }
    )
    assert odd is not None and odd["epochs"]["yours"] == {"best": None, "stopped": None}
    # A run that did not run (null, as the grader reports it) is left out; a run always has
    # both series, as the OpenAPI document says.
    partial = clean_lab({"curves": {"baseline": {"val": [0.5]}, "yours": None}, "epochs": None})
    assert partial == {
        "curves": {"baseline": {"train": [], "val": [0.5]}},
        "epochs": {"baseline": {"best": None, "stopped": None}},
        "metric": "loss",
    }
    assert clean_lab(None) is None
    assert clean_lab({"curves": {"yours": {"train": "nope"}}}) is None
    assert clean_lab({"curves": {"mine": {"train": [1.0]}}}) is None
    long = clean_lab({"curves": {"yours": {"train": [0.5] * 5000, "val": [0.5] * 5000}}})
    assert long is not None and len(long["curves"]["yours"]["train"]) == 1000
    assert final_validation_loss(cleaned) == 0.41
    assert final_validation_loss(cleaned, "reference") == cleaned["curves"]["reference"]["val"][-1]


def test_a_line_chart_breaks_at_gaps_and_escapes_its_labels() -> None:
    chart = str(
        charts.line_chart(
            [charts.Line("<i>train</i>", [1.0, 0.8, None, 0.5, None, 0.4, 0.3], "train", "#000")],
            [charts.Mark(4, "best <4>", "best", "#080"), charts.Mark(99, "off", "stopped", "#800")],
            'Run "<x>"',
            "described & <escaped>",
            7,
            0.0,
            1.0,
        )
    )
    path = re.search(r'<g class="series train"[^>]*>.*?<path d="([^"]+)"', chart)
    assert path is not None
    assert path.group(1).count("M") == 3  # three pieces: 1-2, 4, 6-7
    assert chart.count("<circle") == 1  # epoch 4 stands alone: a dot
    assert "<i>" not in chart and "&lt;i&gt;train&lt;/i&gt;" in chart
    assert (
        "described &amp; &lt;escaped&gt;" in chart
        and "<title>Run &#34;&lt;x&gt;&#34;</title>" in chart
    )
    assert 'class="mark best" data-epoch="4"' in chart and "best &lt;4&gt;" in chart
    assert 'data-epoch="99"' not in chart  # a mark outside the run is not drawn
    assert "nan" not in chart.lower() and "inf" not in chart.lower()


def test_a_diverging_run_does_not_flatten_the_others() -> None:
    """A student's run that blows up is drawn at the top edge of axes set by the baseline and
    the reference (at most 1.5 times their highest loss), which stay readable."""
    report = lab_report(hostile=False)
    report["curves"]["yours"]["val"] = [0.6, 5.0, 1e6, 1e12]
    figure = lab_figure(cast(Submission, SimpleNamespace(lab=clean_lab(report))))
    assert figure is not None
    trusted = max(
        v
        for run in ("baseline", "reference")
        for k in ("train", "val")
        for v in report["curves"][run][k]
    )
    ticks = [
        float(t)
        for t in re.findall(r'text-anchor="end"[^>]*>([0-9.e+]+)</text>', str(figure.charts[1]))
    ]
    assert ticks and max(ticks) <= 1.5 * trusted
    assert figure.missing == []
    del report["curves"]["yours"]
    without = lab_figure(cast(Submission, SimpleNamespace(lab=clean_lab(report))))
    assert without is not None and without.missing == ["Your run"] and len(without.charts) == 2
    assert "1e+12" not in str(figure.charts[1]) and "1000000000000.0000" in figure.rows[3][1]


def test_loss_bands_cover_the_losses_with_round_edges() -> None:
    assert loss_bands([]) == []
    bands = loss_bands([0.37, 0.41, 0.42, 0.9])
    assert bands[0][0] <= 0.37 and bands[-1][1] >= 0.9 and len(bands) <= 9
    (only,) = loss_bands([0.4, 0.4])
    assert only[0] <= 0.4 <= only[1]


# --- the API -------------------------------------------------------------------------------


def test_the_api_returns_a_lab_submissions_curves_and_marked_epochs(
    lab_app: Flask, client: FlaskClient, student: dict[str, str], other_student: dict[str, str]
) -> None:
    lab_id = graded(lab_app, "alice", lab_report())
    plain_id = graded(lab_app, "alice", None)
    body = client.get(f"/api/v1/submissions/{lab_id}", headers=student).get_json()
    assert body["status"] == "graded" and body["score"] == 7.0
    curves, epochs = body["curves"], body["epochs"]
    assert set(curves) == {"baseline", "yours", "reference"}
    assert curves["yours"]["val"][8:12] == [None, None, None, None]  # gaps are null, never NaN
    assert curves["yours"]["val"][-1] == 0.41
    assert curves["baseline"]["train"][0] == 0.7 and len(curves["yours"]["val"]) == 13
    assert epochs == {
        "baseline": {"best": 5, "stopped": None},
        "yours": {"best": 8, "stopped": 13},
        "reference": {"best": 8, "stopped": 12},
    }
    # Other submissions carry neither field; every existing field is still there.
    plain = client.get(f"/api/v1/submissions/{plain_id}", headers=student).get_json()
    assert "curves" not in plain and "epochs" not in plain
    for field in ("id", "question", "status", "score", "max_score", "tests", "feedback"):
        assert field in plain and field in body
    # The list returns them the same way.
    listed = client.get("/api/v1/submissions?question=dropout", headers=student).get_json()
    by_id = {item["id"]: item for item in listed["items"]}
    assert by_id[lab_id]["epochs"]["yours"]["stopped"] == 13 and "curves" not in by_id[plain_id]
    # Another student sees nothing of it: a problem, not a 500.
    assert_problem(client.get(f"/api/v1/submissions/{lab_id}", headers=other_student), 404)
    assert_problem(client.get("/api/v1/submissions/99999999999", headers=student), 404)


def test_an_override_keeps_the_curves(
    lab_app: Flask, client: FlaskClient, student: dict[str, str], instructor: dict[str, str]
) -> None:
    lab_id = graded(lab_app, "alice", lab_report())
    by_hand = {"score": 9.0, "comment": "the curves look right"}
    overridden = client.post(
        f"/api/v1/submissions/{lab_id}/override", json=by_hand, headers=instructor
    )
    assert overridden.status_code == 200, overridden.get_json()
    body = client.get(f"/api/v1/submissions/{lab_id}", headers=student).get_json()
    assert body["score"] == 9.0 and body["epochs"]["yours"]["best"] == 8


def test_the_openapi_document_describes_curves_and_epochs(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    submission = schemas["Submission"]["properties"]
    assert submission["curves"]["allOf"] == [{"$ref": "#/components/schemas/LabCurves"}]
    assert submission["epochs"]["allOf"] == [{"$ref": "#/components/schemas/LabEpochs"}]
    assert set(schemas["LabCurves"]["properties"]) == {"baseline", "yours", "reference"}
    assert set(schemas["LabMarks"]["properties"]) == {"best", "stopped"}


def test_curves_stay_hidden_while_the_attempt_hides_its_feedback(
    lab_app: Flask, client: FlaskClient, student: dict[str, str], instructor: dict[str, str]
) -> None:
    with lab_app.app_context():
        save_quiz(
            {
                "slug": "lab-exam",
                "title": "Lab exam",
                "course": "lab-course",
                "questions": ["dropout"],
                "review": {"feedback": "never", "score": "after_submit"},
            }
        )
        db.session.commit()
    lab_id = graded(lab_app, "alice", lab_report(), quiz="lab-exam")
    body = client.get(f"/api/v1/submissions/{lab_id}", headers=student).get_json()
    assert body["score"] == 7.0 and body["tests"] == [] and body["feedback"] == ""
    assert "curves" not in body and "epochs" not in body
    staff = client.get(f"/api/v1/submissions/{lab_id}", headers=instructor).get_json()
    assert staff["epochs"]["yours"]["best"] == 8


# --- the pages -----------------------------------------------------------------------------


def test_the_submission_page_draws_each_run_with_its_marked_epochs_and_tables(
    lab_app: Flask, client: FlaskClient, student: dict[str, str]
) -> None:
    lab_id = graded(lab_app, "alice", lab_report())
    sign_in(client, student, f"/app/submissions/{lab_id}")
    page = client.get(f"/app/submissions/{lab_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    section = html[html.index('<section class="lab"') :]
    figures = re.findall(r'<figure class="chart">.*?</figure>', section, re.S)
    assert [re.search(r"<figcaption[^>]*>([^<]+)<", f).group(1) for f in figures] == [  # type: ignore[union-attr]
        "Baseline: loss per epoch",
        "Your run: loss per epoch",
        "Reference: loss per epoch",
    ]
    baseline, yours, reference = figures
    for figure in figures:
        assert 'role="img"' in figure and "<desc" in figure
        assert '<g class="series train"' in figure and '<g class="series val"' in figure
    assert 'class="mark best" data-epoch="5"' in baseline and "mark stopped" not in baseline
    assert 'class="mark best" data-epoch="8"' in yours
    assert 'class="mark stopped" data-epoch="13"' in yours
    assert 'class="mark stopped" data-epoch="12"' in reference
    # The student's validation curve has a gap at epochs 9-12: epochs 1-8, then a dot at 13.
    val = re.search(r'<g class="series val"[^>]*>.*?<path d="([^"]+)"', yours)
    assert val is not None and val.group(1).count("M") == 2 and val.group(1).count("L") == 7
    assert yours.count("<circle") == 1
    assert "Best epoch: 8. Stopped at epoch 13." in yours
    assert "4 epochs of it are not a number (gaps)." in yours
    # Nothing the run sent is markup; no number is NaN or inf.
    assert "<script>alert" not in html and "<svg onload" not in html and "<b>" not in section
    assert not re.search(r"\b(nan|inf)\b", section, re.I)
    # The tables: marked epochs per run, and every epoch's numbers.
    summary = re.search(r'<table class="lab-epochs">.*?</table>', section, re.S)
    assert summary is not None
    yours_row = re.search(r'<tr data-run="yours">(.*?)</tr>', summary.group(0), re.S)
    assert yours_row is not None
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", yours_row.group(1))
    assert cells[:3] == ["13", "8", "13"] and cells[4] == "0.4100"
    series = re.search(r'<table class="lab-series">.*?</table>', section, re.S)
    assert series is not None
    rows = re.findall(
        r"<tr><th scope=\"row\" class=\"num\">(\d+)</th>(.*?)</tr>", series.group(0), re.S
    )
    assert len(rows) == EPOCHS
    epoch_nine = re.findall(r'<td class="num">([^<]*)</td>', rows[8][1])
    assert epoch_nine[3] == "—"  # your validation loss at epoch 9: not a number
    assert "Your run: best; Reference: best" in rows[7][1]
    # The question page shows the same curves for the shown submission.
    question = client.get(f"/app/questions/dropout?submission={lab_id}").get_data(as_text=True)
    assert 'class="mark stopped" data-epoch="13"' in question


def test_a_handed_in_attempt_shows_the_curves_as_its_review_allows(
    lab_app: Flask, client: FlaskClient, student: dict[str, str]
) -> None:
    with lab_app.app_context():
        for slug, feedback in (("lab-open", "after_submit"), ("lab-sealed", "never")):
            review = {"feedback": feedback}
            quiz = {"slug": slug, "title": slug, "course": "c", "questions": ["dropout"]}
            save_quiz({**quiz, "review": review})
        db.session.commit()
    shown = graded(lab_app, "alice", lab_report(), quiz="lab-open")
    hidden = graded(lab_app, "alice", lab_report(), quiz="lab-sealed")
    sign_in(client, student, "/app/")
    pages = {}
    for submission_id in (shown, hidden):
        with lab_app.app_context():
            row = db.session.get(Submission, submission_id)
            assert row is not None
            attempt_id = row.attempt_id
        pages[submission_id] = client.get(f"/app/attempts/{attempt_id}").get_data(as_text=True)
    assert 'class="mark stopped" data-epoch="13"' in pages[shown]
    assert "Training curves" not in pages[hidden] and "mark stopped" not in pages[hidden]


def test_a_submission_without_curves_shows_no_lab_section(
    lab_app: Flask, client: FlaskClient, student: dict[str, str]
) -> None:
    plain_id = graded(lab_app, "alice", None)
    sign_in(client, student, f"/app/submissions/{plain_id}")
    html = client.get(f"/app/submissions/{plain_id}").get_data(as_text=True)
    assert "Training curves" not in html and 'class="lab"' not in html


def test_the_course_page_shows_the_final_validation_loss_of_its_own_students_only(
    lab_app: Flask, client: FlaskClient, token_for: Callable[..., str]
) -> None:
    with lab_app.app_context():
        for course in ("lab-a", "lab-b"):
            save_quiz(
                {
                    "slug": f"{course}-quiz",
                    "title": course,
                    "course": course,
                    "questions": ["dropout"],
                }
            )
        db.session.commit()
    for name, loss in (("ann", 0.38), ("ben", 0.42), ("cat", 0.44)):
        graded(lab_app, name, lab_report(final_yours=0.9), quiz="lab-a-quiz")
        graded(lab_app, name, lab_report(final_yours=loss), quiz="lab-a-quiz")  # the latest counts
    graded(lab_app, "dan", lab_report(final_yours=math.nan), quiz="lab-a-quiz")
    graded(lab_app, "eve", lab_report(final_yours=7.5), quiz="lab-b-quiz")  # another course
    graded(lab_app, "fay", None, quiz="lab-a-quiz")  # not a lab run
    teacher = bearer(token_for("instructor", "prof-a", course="lab-a"))
    sign_in(client, teacher, "/app/courses/lab-a")
    page = client.get("/app/courses/lab-a")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    section = html[html.index('aria-labelledby="labs-h"') :]
    section = section[: section.index("</section>")]
    figure = re.search(r'<figure class="chart">.*?</figure>', section, re.S)
    assert figure is not None
    assert "final validation loss of the class" in figure.group(0)
    assert figure.group(0).count('<rect class="bar"') >= 2
    table = re.search(r'<table class="lab-losses">.*?</table>', section, re.S)
    assert table is not None
    counts = re.findall(r'<th scope="row">([^<]+)</th><td class="num">(\d+)</td>', table.group(0))
    bands = {label: int(n) for label, n in counts}
    assert bands.pop("Students") == 4
    assert bands.pop("not a number (diverged)") == 1
    assert sum(bands.values()) == 3  # ann, ben, cat: their latest runs; eve is in lab-b
    assert "7.5" not in section and "0.9000" not in section
    assert re.search(r"Median</th><td class=\"num\">0\.4200<", table.group(0))
    assert "Reference run" in table.group(0)
    # The other course's page is out of this instructor's scope: a problem page, not a 500.
    other = client.get("/app/courses/lab-b")
    assert other.status_code in (403, 404)
    # A site-wide instructor sees every course, each page with its own students' runs only.
    everyone = bearer(token_for("instructor", "prof-all"))
    fresh = lab_app.test_client()
    sign_in(fresh, everyone, "/app/courses/lab-b")
    lab_b = fresh.get("/app/courses/lab-b").get_data(as_text=True)
    assert "Labs: final validation loss" in lab_b and "7.5" in lab_b
    lab_a = fresh.get("/app/courses/lab-a").get_data(as_text=True)
    assert 'Students</th><td class="num">4<' in lab_a and "7.5" not in lab_a


def test_a_course_without_lab_runs_has_no_lab_section(
    lab_app: Flask, client: FlaskClient, instructor: dict[str, str]
) -> None:
    with lab_app.app_context():
        save_quiz({"slug": "q", "title": "q", "course": "plain", "questions": ["dropout"]})
        db.session.commit()
    graded(lab_app, "ann", None, quiz="q")
    sign_in(client, instructor, "/app/courses/plain")
    html = client.get("/app/courses/plain").get_data(as_text=True)
    assert "Labs: final validation loss" not in html


def test_submissions_keep_no_lab_when_the_report_has_none(lab_app: Flask) -> None:
    plain_id = graded(lab_app, "alice", None)
    with lab_app.app_context():
        stored = db.session.get(Submission, plain_id)
        assert stored is not None and stored.lab is None
