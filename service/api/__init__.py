"""The REST API under /api/v1, documented from its schemas at /openapi.json and /docs."""

from __future__ import annotations

import http
from typing import Any

from flask import Flask
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from service.errors import PROBLEM_TYPE
from service.schemas import (
    AttemptAnswerSchema,
    LabCurvesSchema,
    LabEpochsSchema,
    ProblemSchema,
    TestResultSchema,
)


class HoldoutApi(Api):
    """flask-smorest's Api, with every documented error response in problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
                prepare_response(response, self.spec, PROBLEM_TYPE)
            else:
                prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        default = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(default, self.spec, PROBLEM_TYPE)
        self.spec.components.response("DEFAULT_ERROR", default, lazy=True)

    def _register_error_handlers(self) -> None:
        """Keep the app's problem+json handlers (service.errors): flask-smorest's own handler
        would answer webargs' and werkzeug's errors (400, 404, 405, 413, 422) in plain JSON."""


def init_api(app: Flask) -> HoldoutApi:
    app.config.update(
        API_TITLE="holdout",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        # /docs is Swagger UI from flask-swagger-ui (see service.app), its assets served locally.
    )
    api = HoldoutApi(
        app,
        spec_kwargs={
            "info": {
                "description": "Quizzes and auto-graded numpy exercises on neural-network "
                "regularization. Authenticate with `Authorization: Bearer <token>`."
            }
        },
    )
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    # Schemas that responses reference from computed (Method) fields, which apispec can't follow.
    api.spec.components.schema("AttemptAnswer", schema=AttemptAnswerSchema)
    api.spec.components.schema("TestResult", schema=TestResultSchema)
    api.spec.components.schema("LabCurves", schema=LabCurvesSchema)
    api.spec.components.schema("LabEpochs", schema=LabEpochsSchema)

    from service.api import (
        courses,
        health,
        interop,
        questions,
        quizzes,
        regrades,
        tokens,
        webhooks,
    )

    for module in (health, tokens, courses, interop, questions, quizzes, regrades, webhooks):
        api.register_blueprint(module.blp)
    return api
