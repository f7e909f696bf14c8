"""The access matrix: every route of the app, by every role, on an object of another process.

The routes come from the app itself and each must have a row in `MATRIX`, the permission it needs
written down here (None: public): a route added later fails until its row is added, and a row whose
permission differs from the gate's fails too. Refusals: no session → the login page (console) or 401 (API); a process
the account may not see → 404; a role without the permission → 403; an object of another process,
under one's own process → 404. A permitted call is never refused by the gate.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from webconsole import EMAILS, MINE, THEIRS, Site, audit_count, csrf_of, log_in

from ibmflow.access import ADMINISTRATOR, CHAIR, COORDINATOR, MANAGER, PERMISSIONS, roles_for
from ibmflow.services import accounts
from ibmflow.services.context import Context
from ibmflow.web.app import create_app
from ibmflow.web.auth import OBJECT_PARAMS, routes_of

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

ROLES = (COORDINATOR, CHAIR, MANAGER, ADMINISTRATOR)
# Every route of the app and the permission it needs: None for the public ones (an account needed
# by none of them is a decision); the others by path.
MATRIX: dict[tuple[str, str], str | None] = {
    ("GET", "/"): None,
    ("GET", "/api/openapi.json"): None,
    ("GET", "/healthz"): None,
    ("GET", "/login"): None,
    ("POST", "/login"): None,
    ("GET", "/r/{token}"): None,
    ("HEAD", "/r/{token}"): None,
    ("POST", "/r/{token}"): None,
    ("GET", "/r/{token}/done"): None,
    ("GET", "/api/processes"): "view",
    ("GET", "/api/processes/{key}"): "view",
    ("POST", "/api/processes/{key}/advance"): "move",
    ("GET", "/api/processes/{key}/requests"): "view",
    ("POST", "/api/processes/{key}/requests"): "request",
    ("POST", "/api/processes/{key}/resume"): "move",
    ("POST", "/api/processes/{key}/return"): "move",
    ("POST", "/api/processes/{key}/suspend"): "move",
    ("GET", "/api/report"): "report",
    ("POST", "/language"): "view",
    ("POST", "/logout"): "view",
    ("GET", "/p/{key}"): "view",
    ("POST", "/p/{key}/adoption"): "record",
    ("POST", "/p/{key}/advance"): "move",
    ("POST", "/p/{key}/appointment"): "appoint",
    ("GET", "/p/{key}/audit"): "view",
    ("POST", "/p/{key}/chapters"): "record",
    ("POST", "/p/{key}/chapters/draft"): "record",
    ("POST", "/p/{key}/chapters/lead"): "record",
    ("POST", "/p/{key}/consultation/close"): "record",
    ("POST", "/p/{key}/decisions"): "decide",
    ("POST", "/p/{key}/decisions/{did}/votes"): "vote",
    ("POST", "/p/{key}/documents"): "document",
    ("GET", "/p/{key}/documents/{doc}"): "view",
    ("POST", "/p/{key}/extend"): "extend",
    ("GET", "/p/{key}/mail"): "mail",
    ("GET", "/p/{key}/mail/{mail}"): "mail",
    ("POST", "/p/{key}/nominations"): "nominate",
    ("POST", "/p/{key}/people"): "roster",
    ("POST", "/p/{key}/quarantine/{iid}/assign"): "quarantine",
    ("POST", "/p/{key}/quarantine/{iid}/reject"): "quarantine",
    ("POST", "/p/{key}/requests"): "request",
    ("POST", "/p/{key}/requests/{rid}/extend"): "extend",
    ("POST", "/p/{key}/requests/{rid}/reopen"): "request",
    ("POST", "/p/{key}/requests/{rid}/waive"): "request",
    ("POST", "/p/{key}/requests/{rid}/withdraw"): "request",
    ("POST", "/p/{key}/resume"): "move",
    ("POST", "/p/{key}/return"): "move",
    ("POST", "/p/{key}/suspend"): "move",
    ("POST", "/p/{key}/task-forces"): "record",
    ("GET", "/processes"): "view",
    ("GET", "/report"): "report",
    ("GET", "/report.csv"): "report",
    ("GET", "/report.ics"): "report",
    ("GET", "/attention"): "view",
    ("GET", "/search"): "view",
    ("GET", "/api/search"): "view",
    ("GET", "/p/{key}/audit.csv"): "view",
    ("GET", "/p/{key}/audit.json"): "view",
    ("GET", "/p/{key}/answers/{kind}.csv"): "view",
    ("GET", "/p/{key}/answers/{kind}.xlsx"): "view",
    ("GET", "/p/{key}/requests.csv"): "view",
    ("GET", "/p/{key}/requests.xlsx"): "view",
    ("GET", "/p/{key}/requests/{rid}/remind"): "request",
    ("POST", "/p/{key}/requests/{rid}/remind"): "request",
    ("POST", "/p/{key}/requests/bulk"): "request",
}
# Path parameters naming an object of a process, and which object of `Site.objects` fills them.
OBJECTS = OBJECT_PARAMS


def declared(app: FastAPI) -> list[tuple[str, str, str | None]]:
    """Every route of the app with the permission the gate enforces (None: public)."""
    access = app.state.gate.access
    out = []
    for method, path in routes_of(app):
        if method == "HEAD" and ("GET", path) in access and (method, path) not in access:
            continue  # Starlette answers HEAD wherever GET is; the GET's access applies
        assert (method, path) in access, f"{method} {path} has no declared access"
        out.append((method, path, access[(method, path)]))
    # Logging out ends the session the rest of the matrix uses: last.
    return sorted(out, key=lambda r: (r[1] == "/logout", r[1], r[0]))


def unmatched(routes: list[tuple[str, str, str | None]]) -> list[str]:
    """What differs between the app's routes and `MATRIX`: each route without a row, each row
    without a route, each permission the gate and the row disagree on."""
    gate = {(method, path): permission for method, path, permission in routes}
    return [
        *(
            f"{m} {p} ({gate[(m, p)]!r}) has no row in MATRIX: add one"
            for m, p in sorted(gate.keys() - MATRIX.keys())
        ),
        *(
            f"{m} {p} has a row in MATRIX but no route"
            for m, p in sorted(MATRIX.keys() - gate.keys())
        ),
        *(
            f"{m} {p} needs {gate[(m, p)]!r} at the gate, {MATRIX[(m, p)]!r} in MATRIX"
            for m, p in sorted(gate.keys() & MATRIX.keys())
            if gate[(m, p)] != MATRIX[(m, p)]
        ),
    ]


def fill(path: str, key: str, objects: dict[str, int]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "kind":
            return "self_assessment"  # a request kind with a table of answers
        return key if name == "key" else str(objects[OBJECTS[name]])

    return re.sub(r"\{(\w+)\}", value, path)


def call(client: httpx.Client, method: str, path: str, csrf: str, token: str | None) -> int:
    if path.startswith("/api/"):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body: dict[str, Any] | None = {} if method == "POST" else None
        return client.request(method, path, json=body, headers=headers).status_code
    data = {"csrf_token": csrf} if method == "POST" else None
    return client.request(method, path, data=data).status_code


@sqlite_only
def test_every_route_has_a_row_in_the_matrix_with_the_gates_permission(ctx: Context) -> None:
    """A route added (or its permission changed) means a row added (or changed) in `MATRIX`."""
    assert unmatched(declared(create_app(ctx))) == []


@sqlite_only
def test_a_route_added_without_a_row_fails_the_matrix(ctx: Context) -> None:
    app = create_app(ctx)

    @app.state.gate.page("GET", "/p/{key}/chapters", "record")
    async def chapters(request: Any, caller: Any) -> Any:
        return None

    assert unmatched(declared(app)) == [
        "GET /p/{key}/chapters ('record') has no row in MATRIX: add one"
    ]


def test_the_roles_hold_the_permissions_the_domain_gives_them() -> None:
    held = {role: {p for p in PERMISSIONS if role in roles_for(p)} for role in ROLES}
    assert held[MANAGER] == {"view", "report"}
    assert held[CHAIR] == {"view", "report", "appoint", "decide", "vote", "nominate"}
    assert held[COORDINATOR] == held[ADMINISTRATOR] == set(PERMISSIONS)


@sqlite_only
def test_every_route_refuses_every_caller_it_must_and_no_other(ctx: Context, site: Site) -> None:
    routes = [(m, p, MATRIX[(m, p)]) for m, p, _ in declared(create_app(ctx)) if MATRIX.get((m, p))]
    assert len(routes) > 30
    sessions: dict[str, tuple[httpx.Client, str, str]] = {}
    for role in ROLES:
        client = site.client()
        assert log_in(client, EMAILS[role]).status_code == 303
        token = accounts.issue_token(ctx, EMAILS[role], actor="test")
        sessions[role] = (client, csrf_of(client.get("/processes")), token)
    anonymous = site.client()
    mine, theirs = site.objects[MINE], site.objects[THEIRS]
    wrong: list[str] = []

    def expect(what: str, got: int, allowed: set[int] | None, refused_with: int | None) -> None:
        if refused_with is not None and got != refused_with:
            wrong.append(f"{what}: {got}, expected {refused_with}")
        if allowed is not None and got in allowed:
            wrong.append(f"{what}: refused with {got}")

    for method, path, permission in routes:
        assert permission is not None
        api = path.startswith("/api/")
        has_key = "{key}" in path
        has_object = any(f"{{{name}}}" in path for name in OBJECTS)
        target = fill(path, MINE, mine)
        got = call(anonymous, method, target, "", None)
        expect(f"anonymous {method} {target}", got, None, 401 if api else 303)
        for role in ROLES:
            client, csrf, token = sessions[role]
            permitted = role in roles_for(permission)
            label = f"{role} {method} {path}"
            if has_key:
                other = fill(path, THEIRS, theirs)
                got = call(client, method, other, csrf, token)
                if role == ADMINISTRATOR:
                    expect(f"{label} on {THEIRS}", got, {401, 403, 404}, None)
                else:
                    expect(f"{label} on {THEIRS}", got, None, 404)
            if has_object:
                crossed = fill(path, MINE, theirs)
                got = call(client, method, crossed, csrf, token)
                expect(
                    f"{label}, {THEIRS}'s object under {MINE}", got, None, 404 if permitted else 403
                )
            got = call(client, method, target, csrf, token)
            if permitted:
                expect(f"{label} on its own", got, {401, 403, 404}, None)
            else:
                expect(f"{label} on its own", got, None, 403)
    assert not wrong, "\n".join(wrong)


@sqlite_only
def test_a_cookie_session_does_not_authenticate_the_api(site: Site) -> None:
    client = site.client()
    assert log_in(client, EMAILS[COORDINATOR]).status_code == 303
    assert client.get("/processes").status_code == 200
    refused = client.get("/api/processes")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert refused.json()["error"] == "unauthenticated"


@sqlite_only
def test_an_app_with_a_route_of_undeclared_access_is_refused(ctx: Context) -> None:
    app = create_app(ctx)

    @app.get("/p/{key}/secret")
    def secret(key: str) -> str:
        return key

    with pytest.raises(
        RuntimeError, match=r"routes without declared access.*GET /p/\{key\}/secret"
    ):
        app.state.gate.seal()


@sqlite_only
def test_an_app_with_a_path_parameter_the_gate_cannot_check_is_refused(ctx: Context) -> None:
    app = create_app(ctx)
    gate = app.state.gate

    @gate.page("GET", "/p/{key}/chapters/{chapter}", "view")
    async def chapter(request: Any, caller: Any) -> Any:
        return None

    with pytest.raises(RuntimeError, match="path parameters the gate cannot check"):
        gate.seal()


@sqlite_only
def test_remind_and_the_bulk_actions_need_the_request_permission(ctx: Context) -> None:
    """The matrix above walks them; what they are declared with is pinned here."""
    access = create_app(ctx).state.gate.access
    assert access[("GET", "/p/{key}/requests/{rid}/remind")] == "request"
    assert access[("POST", "/p/{key}/requests/{rid}/remind")] == "request"
    assert access[("POST", "/p/{key}/requests/bulk")] == "request"


@sqlite_only
def test_the_request_ids_a_bulk_form_carries_are_checked_like_those_of_a_path(
    ctx: Context, site: Site
) -> None:
    """Another process's request ticked in a bulk form: refused as not in this process for those
    who may act on requests, forbidden for the others; nothing is written either way."""
    theirs = site.objects[THEIRS]["request"]
    for role in ROLES:
        client = site.client()
        assert log_in(client, EMAILS[role]).status_code == 303
        csrf = csrf_of(client.get("/processes"))
        before = audit_count(ctx)
        got = client.post(
            f"/p/{MINE}/requests/bulk",
            data={"csrf_token": csrf, "rid": [str(theirs)], "action": "waive", "reason": "x"},
        )
        # Refused by the command (post/redirect/get back to the page) for those who may act on
        # requests; by the gate for the others.
        assert got.status_code == (303 if role in roles_for("request") else 403), role
        if got.status_code == 303:
            assert "?refused=" in got.headers["location"]
        assert audit_count(ctx) == before


@sqlite_only
def test_the_downloads_are_declared_for_whoever_may_view_the_process(ctx: Context) -> None:
    """The audit exports and the tables of answers and requests: the "view" permission, on a
    process the caller sees (the matrix above walks them with the other routes)."""
    access = {(m, p): permission for m, p, permission in declared(create_app(ctx))}
    for path in (
        "/p/{key}/audit.csv",
        "/p/{key}/audit.json",
        "/p/{key}/answers/{kind}.csv",
        "/p/{key}/answers/{kind}.xlsx",
        "/p/{key}/requests.csv",
        "/p/{key}/requests.xlsx",
    ):
        assert access[("GET", path)] == "view", path


@sqlite_only
def test_the_desk_and_the_search_are_in_the_matrix_for_every_role(ctx: Context) -> None:
    """The desk, the search page and its API are declared (so the matrix above walks them), and
    every role may read them: each shows only what the caller's processes hold."""
    routes = {(method, path): permission for method, path, permission in declared(create_app(ctx))}
    for route in (("GET", "/attention"), ("GET", "/search"), ("GET", "/api/search")):
        assert routes[route] == "view", route
    assert roles_for("view") == set(ROLES)
