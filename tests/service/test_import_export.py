"""`POST /api/v1/questions/import`, `GET /api/v1/questions/export` and `holdout bank import` /
`export` (real subprocesses), on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from question_bank.loader import BUNDLED_DIR, load_bank
from tests.service.test_cli import HOLDOUT, Cli

GIFT = """$CATEGORY: $course$/top/Imported

::Import one:: Is dropout a regularizer? {T}

::Import two:: Which is a norm penalty? {=L2 ~dropout ~batch size}

::Import essay:: Discuss. {}
"""


def upload(
    client: FlaskClient, headers: dict[str, str], data: bytes, name: str = "quiz.gift", **form: str
) -> Any:
    body: dict[str, Any] = {"file": (io.BytesIO(data), name), **form}
    return client.post(
        "/api/v1/questions/import", data=body, headers=headers, content_type="multipart/form-data"
    )


def test_import_through_the_api_loads_and_reports(
    client: FlaskClient, instructor: dict[str, str], student: dict[str, str]
) -> None:
    response = upload(client, instructor, GIFT.encode())
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert list(report) == ["files"]
    (entry,) = report["files"]
    assert entry["format"] == "gift"
    assert [i["slug"] for i in entry["imported"]] == ["import-one", "import-two"]
    assert entry["refused"][0]["name"] == "Import essay"
    got = client.get("/api/v1/questions/import-two", headers=instructor).get_json()
    assert got["tags"] == ["imported"] and got["type"] == "single_choice"
    # Importing the same file again updates (an upsert), it does not duplicate.
    again = upload(client, instructor, GIFT.encode()).get_json()
    assert [i["slug"] for i in again["files"][0]["imported"]] == ["import-one", "import-two"]
    # Students may not import.
    assert upload(client, student, GIFT.encode()).status_code == 403


def test_import_never_overwrites_a_question_no_import_made(
    client: FlaskClient, instructor: dict[str, str], bank: Any
) -> None:
    slug = bank.questions[0]["slug"]
    text = f"::{slug}:: Overwrite? {{T}}\n\n::Next one:: Still imported? {{T}}\n"
    report = upload(client, instructor, text.encode()).get_json()
    assert [i["slug"] for i in report["files"][0]["imported"]] == ["next-one"]
    assert "no import made" in report["files"][0]["refused"][0]["reason"]
    assert client.get("/api/v1/questions/next-one", headers=instructor).status_code == 200
    assert (
        client.get(f"/api/v1/questions/{slug}", headers=instructor).get_json()["title"]
        == bank.questions[0]["title"]
    )


def test_unreadable_or_missing_files_are_problems(
    client: FlaskClient, instructor: dict[str, str]
) -> None:
    bad = upload(client, instructor, b"<quiz><question", "bad.xml")
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    assert "well-formed" in bad.get_json()["detail"]
    unknown = upload(client, instructor, b"\x00\x01binary", "x.bin")
    assert unknown.status_code == 422
    missing = client.post(
        "/api/v1/questions/import", data={}, headers=instructor, content_type="multipart/form-data"
    )
    assert missing.status_code == 422 and missing.mimetype == "application/problem+json"
    wrong_format = upload(client, instructor, GIFT.encode(), format="docx")
    assert wrong_format.status_code == 422


def test_export_through_the_api_imports_back(
    client: FlaskClient, instructor: dict[str, str], student: dict[str, str], bank: Any
) -> None:
    for fmt in ("moodle-xml", "qti"):
        response = client.get(f"/api/v1/questions/export?format={fmt}", headers=instructor)
        assert response.status_code == 200
        assert response.mimetype == (
            "application/xml" if fmt == "moodle-xml" else "application/zip"
        )
        from question_bank.interop.formats import import_data

        result = import_data(response.data, "export", fmt)
        # What a format cannot hold (questions with variants, for QTI) is named, not written.
        skipped = set(filter(None, response.headers["X-Holdout-Skipped"].split(", ")))
        expected = {q["slug"]: q for q in bank.questions if q["slug"] not in skipped}
        assert all(q["data"].get("parameters") for q in bank.questions if q["slug"] in skipped)
        assert {q["slug"]: q for q in result.questions} == expected
    assert (
        client.get("/api/v1/questions/export?format=moodle-xml", headers=student).status_code == 403
    )
    assert client.get("/api/v1/questions/export?format=pdf", headers=instructor).status_code == 422


def test_cli_import_into_a_folder_that_bank_check_accepts(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    source = tmp_path / "quiz.gift"
    source.write_text(GIFT)
    done = cli("bank", "import", str(source), "--into", str(tmp_path / "bank"), "--json")
    report = json.loads(done.stdout)
    assert [i["slug"] for i in report["files"][0]["imported"]] == ["import-one", "import-two"]
    cli("bank", "check", str(tmp_path / "bank"), "--quick")
    # Another bank file already uses a slug: the import takes the next one, the same every time.
    (tmp_path / "bank" / "questions" / "mine.yaml").write_text(
        "questions:\n  - {slug: import-two, type: true_false, title: Mine, prompt: p,"
        " explanation: e, answer: true}\n"
    )
    for _ in range(2):
        done = cli("bank", "import", str(source), "--into", str(tmp_path / "bank"), "--json")
        slugs = [i["slug"] for i in json.loads(done.stdout)["files"][0]["imported"]]
        assert slugs == ["import-one", "import-two-2"]
    cli("bank", "check", str(tmp_path / "bank"), "--quick")


def test_cli_exit_codes(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"<quiz><question")
    done = cli("bank", "import", str(bad), str(tmp_path / "missing.gift"), "--json", ok=False)
    assert done.returncode == 2, done.stderr
    report = json.loads(done.stdout)
    assert [f["error"] is not None for f in report["files"]] == [True, True]
    assert "Traceback" not in done.stderr
    unknown = cli("bank", "import", str(bad), "--format", "docx", ok=False)
    assert unknown.returncode == 2


def test_cli_load_and_export_round_trip(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli("db", "upgrade")
    out = tmp_path / "bank.xml"
    cli("bank", "export", "--format", "moodle-xml", "--out", str(out))
    done = cli("bank", "import", str(out), "--load", "--json")
    report = json.loads(done.stdout)
    assert len(report["files"][0]["imported"]) == len(load_bank(BUNDLED_DIR).questions)
    assert HOLDOUT


def test_a_course_instructors_import_stays_in_their_course(
    app: Flask, client: FlaskClient, instructor: dict[str, str]
) -> None:
    """An import by a course instructor belongs to their course; the site's staff do not
    overwrite it by importing the same slug into the shared bank."""
    from sqlalchemy import select

    from service.auth import get_or_create_user, issue_token, make_member
    from service.models import Question, Role, db
    from service.quizzes import get_or_create_course

    with app.app_context():
        course = get_or_create_course("imports-course")
        user = get_or_create_user("course-prof", Role.INSTRUCTOR)
        make_member(user, course)
        _, plain = issue_token(user, name="course", course=course)
        course_id = course.id
        db.session.commit()
    teacher = {"Authorization": f"Bearer {plain}"}
    text = b"::Course question:: Mine? {T}\n"
    mine = upload(client, teacher, text).get_json()["files"][0]
    assert [i["slug"] for i in mine["imported"]] == ["course-question"]
    with app.app_context():
        row = db.session.scalar(select(Question).where(Question.slug == "course-question"))
        assert row is not None and row.course_id == course_id
    again = upload(client, instructor, text).get_json()["files"][0]
    assert again["imported"] == [] and "another course" in again["refused"][0]["reason"]


def test_an_upload_over_the_body_limit_is_a_413_problem(
    app: Flask, client: FlaskClient, instructor: dict[str, str]
) -> None:
    too_big = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = upload(client, instructor, too_big, "big.gift")
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
