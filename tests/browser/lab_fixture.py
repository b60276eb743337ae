"""Store a graded lab submission through the grade writer, in the deployment's database (its
`HOLDOUT_*` environment), from the sample report (tests/service/lab_samples.py); print its id.

    python -m tests.browser.lab_fixture STUDENT QUESTION
"""

from __future__ import annotations

import sys

from service.app import create_app
from service.auth import get_or_create_user
from service.grades import grade_result, write_grade
from service.models import Role, SubmissionStatus, db
from service.questions import find_question
from service.submissions import create_submission
from tests.service.lab_samples import lab_report


def main(student: str, slug: str) -> int:
    app = create_app()
    with app.app_context():
        question = find_question(slug)
        assert question is not None, slug
        user = get_or_create_user(student, Role.STUDENT)
        starter = question.data["exercise"]["starter"]
        submission = create_submission(user, question, starter)
        db.session.flush()
        result = grade_result(
            SubmissionStatus.GRADED,
            question.points,
            [],
            "Your run regularizes like the reference.",
            lab=lab_report(hostile=False),
        )
        assert write_grade(submission, result)
        db.session.commit()
        print(submission.id)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
