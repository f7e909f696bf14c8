"""The access matrix: every route of the app, by every role, on an object of another process.

The routes come from the app itself, so a route added later is checked too (or fails the test for
having no declared access). Refusals: no session → the login page (console) or 401 (API); a process
the account may not see → 404; a role without the permission → 403; an object of another process,
under one's own process → 404. A permitted call is never refused by the gate.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from webconsole import EMAILS, MINE, THEIRS, Site, csrf_of, log_in

from ibmflow.access import ADMINISTRATOR, CHAIR, COORDINATOR, MANAGER, PERMISSIONS, roles_for
from ibmflow.services import accounts
from ibmflow.services.context import Context
from ibmflow.web.app import create_app
from ibmflow.web.auth import OBJECT_PARAMS, routes_of

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

ROLES = (COORDINATOR, CHAIR, MANAGER, ADMINISTRATOR)
PUBLIC = {
    ("GET", "/"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/healthz"),
    ("GET", "/api/openapi.json"),
    ("GET", "/r/{token}"),
    ("HEAD", "/r/{token}"),
    ("GET", "/r/{token}/done"),
    ("POST", "/r/{token}"),
}
# Path parameters naming an object of a process, and which object of `Site.objects` fills them.
OBJECTS = OBJECT_PARAMS


def declared(ctx: Context) -> list[tuple[str, str, str | None]]:
    """Every route of the app with the permission the gate enforces (None: public)."""
    app = create_app(ctx)
    access = app.state.gate.access
    out = []
    for method, path in routes_of(app):
        if method == "HEAD" and ("GET", path) in access and (method, path) not in access:
            continue  # Starlette answers HEAD wherever GET is; the GET's access applies
        assert (method, path) in access, f"{method} {path} has no declared access"
        out.append((method, path, access[(method, path)]))
    # Logging out ends the session the rest of the matrix uses: last.
    return sorted(out, key=lambda r: (r[1] == "/logout", r[1], r[0]))


def fill(path: str, key: str, objects: dict[str, int]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
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
def test_the_public_routes_are_exactly_these(ctx: Context) -> None:
    """A route that needs no account is a decision: adding one means adding it here."""
    public = {(m, p) for m, p, permission in declared(ctx) if permission is None}
    assert public == PUBLIC


def test_the_roles_hold_the_permissions_the_domain_gives_them() -> None:
    held = {role: {p for p in PERMISSIONS if role in roles_for(p)} for role in ROLES}
    assert held[MANAGER] == {"view", "report"}
    assert held[CHAIR] == {"view", "report", "appoint", "decide", "vote", "nominate"}
    assert held[COORDINATOR] == held[ADMINISTRATOR] == set(PERMISSIONS)


@sqlite_only
def test_every_route_refuses_every_caller_it_must_and_no_other(ctx: Context, site: Site) -> None:
    routes = [r for r in declared(ctx) if r[2] is not None]
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
def test_the_desk_and_the_search_are_in_the_matrix_for_every_role(ctx: Context) -> None:
    """The desk, the search page and its API are declared (so the matrix above walks them), and
    every role may read them: each shows only what the caller's processes hold."""
    routes = {(method, path): permission for method, path, permission in declared(ctx)}
    for route in (("GET", "/attention"), ("GET", "/search"), ("GET", "/api/search")):
        assert routes[route] == "view", route
    assert roles_for("view") == set(ROLES)
