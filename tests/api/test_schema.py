"""The OpenAPI schema, fuzzed with schemathesis against the app in process (DESIGN §8):
no 5xx, every answer conforms (a documented status, problem+json for errors, the
documented body), and every request body comes with an example.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from chain.client import ChainClient
from chain.embedded import EmbeddedChain
from tests.api.conftest import MINIMAL_PDF, Api, ApiFactory

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "12"))
"""Per operation and database: the whole module stays well under a minute. Raise it
(``FUZZ_MAX_EXAMPLES=500``) for a deeper search."""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fuzzed(request: pytest.FixtureRequest, make_api: ApiFactory) -> Api:
    """An app with a charity, a project, donations, evidence and an anchored checkpoint."""
    chain = ChainClient.embedded(chain=EmbeddedChain())
    chain.deploy()
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_database")
    api = make_api(str(url), chain)
    charity_id, owner = api.register_charity()
    project_id = api.open_project(charity_id, owner)
    donation = api.donate(charity_id, project_id)
    sha256 = api.upload(owner, MINIMAL_PDF)
    api.disburse(
        charity_id,
        project_id,
        owner,
        evidence=[{"sha256": sha256, "public": True}],
        allocate=[{"donation_id": donation["id"], "amount": 6_000}],
    )
    api.anchor()
    return api


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_no_fuzzed_request_gets_a_5xx_or_an_answer_the_schema_does_not_document(
    fuzzed: Api,
) -> None:
    # schemathesis' own pytest plugin (``from_fixture``) fails under pytest 9 (it reads
    # ``node._nodeid``), so each operation's strategy is driven by Hypothesis here.
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed.client.app)
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=os.environ.get("FUZZ_SEED") is None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Any) -> None:
            response = case.call(headers=fuzzed.platform)
            case.validate_response(response, checks=CHECKS)
            if response.status_code >= 400:
                assert response.headers["content-type"] == ["application/problem+json"]
                problem = response.json()
                assert (problem["status"], bool(problem["code"])) == (response.status_code, True)

        try:
            call()
        except Exception as error:  # every operation's failure, not just the first
            failures[operation.label] = f"{type(error).__name__}: {error}"[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{error}" for label, error in failures.items())


def test_every_json_request_body_in_the_openapi_has_an_example(api: Api) -> None:
    """(A file upload, multipart/form-data, has no example worth showing.)"""
    document = api.client.get("/openapi.json").json()
    components = document["components"]["schemas"]
    missing = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody")
            if body is None:
                continue
            for media_type, content in body["content"].items():
                if media_type == "multipart/form-data":
                    continue
                found = content.get("example") or content.get("examples")
                ref = content.get("schema", {}).get("$ref", "")
                if ref:
                    found = found or components[ref.rsplit("/", 1)[1]].get("examples")
                if not found:
                    missing.append(f"{method.upper()} {path} ({media_type})")
    assert not missing, f"request bodies without an example: {missing}"


def test_every_error_status_the_app_answers_is_documented_as_problem_json(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    undocumented = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and "application/problem+json" not in response.get(
                    "content", {}
                ):
                    undocumented.append(f"{method.upper()} {path} {status}")
    assert not undocumented, f"errors not documented as problem+json: {undocumented}"
    # FastAPI's default 422 (a list of pydantic errors) is never what the app answers.
    assert "HTTPValidationError" not in document["components"]["schemas"]
