"""Every integer and string parameter of every route, with the worst values (issue 12, Low).

The routes and their parameters are read from the app itself (the API's routers and the
explorer's), so a new parameter is tested without a new line here. Integers get values
past every bound (2^63 - 1 and 2^64 overflow a BIGINT, thousands of digits overflow
``int()``) and forms that are not integers; strings get a NUL, which PostgreSQL text
refuses. The answer is a 4xx problem (the explorer's pages: its 404 page), never a 500
and never a 200 that breaks off while streaming. Each runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from starlette.routing import Mount, Route

from tests.api.conftest import new_key
from tests.api.test_errors import BOTH_DATABASES, World, make_world


@pytest.fixture(scope="module", params=BOTH_DATABASES)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """Two charities with projects, donations and a disbursement, on each database."""
    yield from make_world(request, tmp_path_factory)


@dataclass(frozen=True)
class Parameter:
    method: str
    path: str
    where: str  # "path" or "query"
    name: str
    annotation: Any


def parameters(routes: list[Any], prefix: str = "") -> Iterator[Parameter]:
    """Every path and query parameter the app declares, through routers and mounts."""
    for route in routes:
        contexts = (
            list(route.effective_route_contexts())
            if hasattr(route, "effective_route_contexts")
            else [route]
            if hasattr(route, "dependant")
            else []
        )
        if not contexts and isinstance(route, Route):
            # A plain Starlette route (the explorer's item pages, ADR 0044): its path
            # parameters are text, as its convertors read them.
            for method in sorted(set(route.methods or ()) - {"HEAD"}):
                for name in route.param_convertors:
                    yield Parameter(method, prefix + route.path, "path", name, str)
        for context in contexts:
            for method in sorted(set(context.methods or ()) - {"HEAD"}):
                for where, declared in (
                    ("path", context.dependant.path_params),
                    ("query", context.dependant.query_params),
                ):
                    for field in declared:
                        yield Parameter(
                            method,
                            prefix + context.path,
                            where,
                            field.alias,
                            field.field_info.annotation,
                        )
        if isinstance(route, Mount) and hasattr(route.app, "routes"):
            yield from parameters(route.app.routes, prefix + route.path.rstrip("/"))


def _app_parameters() -> list[Parameter]:
    # The app's routes do not depend on the database: build it once, on SQLite, to list them.
    import tempfile
    from pathlib import Path

    from tests.api.conftest import build_api, close_api

    folder = Path(tempfile.mkdtemp())
    api = build_api(f"sqlite:///{folder}/journal.db", None, folder / "evidence")
    try:
        return list(parameters(api.client.app.routes))
    finally:
        close_api(api)


PARAMETERS = _app_parameters()
INTEGERS = [p for p in PARAMETERS if "int" in str(p.annotation)]
STRINGS = [p for p in PARAMETERS if "str" in str(p.annotation)]
SEQ_PAGE = Parameter("GET", "/entries/{seq}", "path", "seq", int)
"""The explorer's entry page takes its seq as text (for its ``.json`` twin): an integer."""


def test_the_parameters_are_all_found() -> None:
    found = {(p.path, p.name) for p in INTEGERS}
    assert found >= {
        ("/api/v1/entries", "after"),
        ("/api/v1/entries", "limit"),
        ("/api/v1/checkpoints/consistency", "first"),
        ("/api/v1/checkpoints/consistency", "second"),
        ("/checkpoints", "before"),
        ("/checkpoints.json", "before"),
    }, found
    assert {(p.path, p.name) for p in STRINGS} >= {
        ("/api/v1/donations/{donation_id}", "donation_id"),
        ("/api/v1/evidence/{sha256}", "sha256"),
        ("/api/v1/exports/{kind}.csv", "charity_id"),
        ("/search", "q"),
        ("/entries/{seq}", "seq"),
        ("/disbursements/{disbursement_id}", "disbursement_id"),
    }


def call(world: World, parameter: Parameter, value: str) -> Any:
    """Call the route with ``value`` for the parameter and valid values for the others."""
    valid = {
        "charity_id": world.charity_id,
        "project_id": world.project_id,
        "donation_id": world.free_donation_id,
        "disbursement_id": world.disbursement_id,
        "allocation_id": "al_x",
        "sha256": world.evidence_sha256,
        "kind": "donations",
        "seq": "0",
    }
    path = parameter.path
    for name, good in valid.items():
        text = value if (parameter.where, parameter.name) == ("path", name) else good
        path = path.replace(f"{{{name}}}", quote(text, safe=""))
    params: dict[str, str] = {}
    if parameter.path.endswith("/consistency"):
        params = {"first": "0", "second": "1"}
    if parameter.where == "query":
        params[parameter.name] = value
    headers = world.api.platform | new_key()
    body = {"json": {"reason": "checking"}} if parameter.method == "POST" else {}
    with world.client.stream(
        parameter.method, path, params=params, headers=headers, **body
    ) as response:
        response.read()  # a stream that breaks off raises here
    return response


BAD_INTEGERS = {
    "2^63 - 1": str(2**63 - 1),
    "2^63": str(2**63),
    "2^64": str(2**64),
    "-1": "-1",
    "-2^63 - 1": str(-(2**63) - 1),
    "1e3": "1e3",
    "0x10": "0x10",
    "5000 digits": "9" * 5000,
    "full-width digits": "１２",
    "empty": "",
    "text": "ten",
}


@pytest.mark.parametrize("value", BAD_INTEGERS.values(), ids=BAD_INTEGERS.keys())
@pytest.mark.parametrize("parameter", [*INTEGERS, SEQ_PAGE], ids=lambda p: f"{p.path} {p.name}")
def test_an_integer_out_of_bounds_or_not_an_integer_is_refused_not_a_500(
    world: World, parameter: Parameter, value: str
) -> None:
    response = call(world, parameter, value)
    if parameter.name == "after" and value == "":
        assert response.status_code in (200, 422)  # an empty optional is no value
        return
    if parameter.path.startswith("/api/"):
        assert response.status_code == 422, response.text[:300]
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["field"] == parameter.name
    else:  # the explorer's policy: a page that cannot exist is its 404 page
        assert response.status_code == 404, response.text[:300]


@pytest.mark.parametrize("value", [str(2**53 - 1), str(2**53 - 2), "1000000000"])
def test_the_journal_after_its_last_seq_is_empty_not_broken(world: World, value: str) -> None:
    response = call(world, Parameter("GET", "/api/v1/entries", "query", "after", int), value)
    assert response.status_code == 200
    assert response.content == b""


NUL_VALUES = {"a NUL": "\x00", "an id with a NUL": "dn_abc\x00def", "a NUL at the end": "ch_x\x00"}


@pytest.mark.parametrize("value", NUL_VALUES.values(), ids=NUL_VALUES.keys())
@pytest.mark.parametrize("parameter", STRINGS, ids=lambda p: f"{p.method} {p.path} {p.name}")
def test_a_nul_in_any_string_parameter_is_never_a_500(
    world: World, parameter: Parameter, value: str
) -> None:
    before = world.api.stored()
    response = call(world, parameter, value)
    assert response.status_code < 500, response.text[:300]
    assert world.api.stored() == before


@pytest.mark.parametrize("value", NUL_VALUES.values(), ids=NUL_VALUES.keys())
@pytest.mark.parametrize("page", ["/", "/search", "/checkpoints", "/api/v1/entries"])
def test_a_nul_in_a_query_parameter_no_route_declares_is_never_a_500(
    world: World, page: str, value: str
) -> None:
    for name in ("lang", "q", "x"):
        response = world.client.get(page, params={name: value})
        assert response.status_code < 500, response.text[:300]


def write_bodies(w: World) -> dict[str, tuple[str, dict[str, Any]]]:
    """A valid body for each write route (its URL first), to put a NUL in each string."""
    from tests.api.conftest import disbursement_body, donation_body

    donation = donation_body(w.charity_id, w.project_id)
    donation["donor"] = {"name": "王小明", "phone": "+86-138", "email": "w@example.org"}
    donation["payer_ref"] = "wxid-payer-1"
    return {
        "charity": ("/api/v1/charities", {"name": "新基金会", "registration_no": "NUL-1"}),
        "project": (
            f"/api/v1/charities/{w.charity_id}/projects",
            {"title": "t", "goal_amount": 1, "currency": "CNY"},
        ),
        "donation": ("/api/v1/donations", donation),
        "refund": (f"/api/v1/donations/{w.free_donation_id}/refunds", {"amount": 1, "reason": "r"}),
        "disbursement": ("/api/v1/disbursements", disbursement_body(w.charity_id, w.project_id, 1)),
        "void": (f"/api/v1/disbursements/{w.disbursement_id}/void", {"reason": "r"}),
        "allocation": (
            "/api/v1/allocations",
            {"donation_id": w.free_donation_id, "disbursement_id": w.disbursement_id, "amount": 1},
        ),
        "official receipt": (
            f"/api/v1/donations/{w.free_donation_id}/official-receipt",
            {"code": "11060126", "number": "0000123456", "check_code": "8A3F2C", "reason": "r"},
        ),
        "official receipt reveal": (
            f"/api/v1/donations/{w.free_donation_id}/official-receipt/reveal",
            {"reveal_key": "0" * 64},
        ),
        # ADR 0037
        "signer": (f"/api/v1/charities/{w.charity_id}/signer", {"signer": None, "reason": "r"}),
        "prepare": (
            "/api/v1/disbursements/prepare",
            disbursement_body(w.charity_id, w.project_id, 1),
        ),
        # Matching funds (ADR 0040): the body is refused before the ids are looked up.
        "matcher": ("/api/v1/matchers", {"name": "某某公司", "registration_no": "NUL-2"}),
        "pool": (
            "/api/v1/matchers/mt_nul/pools",
            {
                "title": "配捐",
                "currency": "CNY",
                "total": 1,
                "cap_per_donation": 1,
                "cap_per_payer_per_day": 1,
                "starts_at": "2026-01-01T00:00:00Z",
                "ends_at": "2099-01-01T00:00:00Z",
                "project_ids": [w.project_id],
            },
        ),
        "close pool": ("/api/v1/pools/mp_nul/close", {"reason": "r"}),
    }


WRITE_METHODS = {"official receipt": "PUT"}
"""The write routes above that are not POST."""


def _strings(body: dict[str, Any], prefix: str = "") -> Iterator[tuple[list[str], str]]:
    for key, value in body.items():
        if isinstance(value, str):
            yield [*prefix.split(".")[1:], key] if prefix else [key], value
        elif isinstance(value, dict):
            yield from _strings(value, f"{prefix}.{key}" if prefix else f".{key}")


@pytest.mark.parametrize(
    "route",
    [
        "charity",
        "project",
        "donation",
        "refund",
        "disbursement",
        "void",
        "allocation",
        "official receipt",
        "official receipt reveal",
        "signer",
        "prepare",
        "matcher",
        "pool",
        "close pool",
    ],
)
def test_a_nul_in_any_string_of_a_write_body_is_refused_not_a_500(world: World, route: str) -> None:
    url, body = write_bodies(world)[route]
    strings = list(_strings(body))
    assert strings
    for path, value in strings:
        changed: Any = {**body, **{k: dict(v) for k, v in body.items() if isinstance(v, dict)}}
        target = changed
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value[:3] + "\x00" + value[3:]
        before = world.api.stored()
        response = world.client.request(
            WRITE_METHODS.get(route, "POST"),
            url,
            json=changed,
            headers=world.api.platform | new_key(),
        )
        assert 400 <= response.status_code < 500, (path, response.text[:300])
        assert world.api.stored() == before, path
