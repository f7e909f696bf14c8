"""The JSON API through a real server: bearer tokens, the same access rules as the console, the
operations and their errors, and an OpenAPI document that validates."""

from __future__ import annotations

import httpx
import pytest
from openapi_spec_validator import validate
from webconsole import EMAILS, MINE, THEIRS, Site

from ibmflow.access import ADMINISTRATOR, COORDINATOR, MANAGER
from ibmflow.services import accounts, processes
from ibmflow.services.process_list import MAX_LIST_PAGE
from ibmflow.services.reports import MAX_REPORT_PAGE, REPORT_PAGE

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def bearer(site: Site, role: str) -> httpx.Client:
    token = accounts.issue_token(site.ctx, EMAILS[role], actor="test")
    client = site.client()
    client.headers["Authorization"] = f"Bearer {token}"
    return client


@sqlite_only
def test_the_openapi_document_validates_and_describes_only_the_api(site: Site) -> None:
    document = site.client().get("/api/openapi.json").json()
    validate(document)
    assert set(document["paths"]) == {
        "/api/processes",
        "/api/processes/{key}",
        "/api/processes/{key}/requests",
        "/api/processes/{key}/advance",
        "/api/processes/{key}/return",
        "/api/processes/{key}/suspend",
        "/api/processes/{key}/resume",
        "/api/report",
        "/api/search",
    }
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token made with `ibmflow user token EMAIL`.",
    }
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation["security"] == [{"bearer": []}], f"{method} {path} is not secured"


@sqlite_only
def test_a_missing_or_unknown_token_is_refused(site: Site) -> None:
    anonymous = site.client().get("/api/processes")
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "unauthenticated"
    forged = site.client().get("/api/processes", headers={"Authorization": "Bearer ibf_forged"})
    assert forged.status_code == 401


def test_a_manager_reads_the_processes_they_follow_and_nothing_else(site: Site) -> None:
    api = bearer(site, MANAGER)
    listed = api.get("/api/processes").json()
    assert [p["process"] for p in listed] == [MINE]
    status = api.get(f"/api/processes/{MINE.lower()}").json()
    assert status["state"] == "stakeholder_identification" and len(status["steps"]) == 10
    assert any("acknowledged the contact request" in b for b in status["blockers"])
    requests = api.get(f"/api/processes/{MINE}/requests").json()
    assert {r["id"] for r in requests} >= {site.objects[MINE]["request"]}
    hidden = api.get(f"/api/processes/{THEIRS}")
    assert hidden.status_code == 404 and hidden.json()["error"] == "not_found"
    refused = api.post(f"/api/processes/{MINE}/advance", json={})
    assert refused.status_code == 403 and "As a manager you may not" in refused.json()["message"]


def test_a_coordinator_opens_requests_and_moves_the_process(site: Site) -> None:
    api = bearer(site, COORDINATOR)
    opened = api.post(
        f"/api/processes/{MINE}/requests",
        json={"kind": "activity_inventory", "institutions": ["MOF_CUSTOMS"], "due_days": 5},
    )
    assert opened.status_code == 201 and len(opened.json()["requests"]) == 1
    again = api.post(
        f"/api/processes/{MINE}/requests",
        json={"kind": "activity_inventory", "institutions": ["MOF_CUSTOMS"]},
    )
    assert again.json() == {"requests": []}

    blocked = api.post(f"/api/processes/{MINE}/advance", json={})
    assert blocked.status_code == 400
    body = blocked.json()
    assert body["error"] == "refused" and any("acknowledged" in b for b in body["blockers"])

    seen = processes.read_version(site.ctx, MINE)
    moved = api.post(
        f"/api/processes/{MINE}/suspend", json={"reason": "Elections", "expected_version": seen}
    )
    assert moved.status_code == 200
    assert moved.json() == {
        "process": MINE,
        "trigger": "suspend",
        "before": "stakeholder_identification",
        "after": "suspended",
        "version": seen + 1,
    }
    stale = api.post(
        f"/api/processes/{MINE}/resume", json={"reason": "Over", "expected_version": seen}
    )
    assert stale.status_code == 409 and stale.json()["error"] == "conflict"
    resumed = api.post(f"/api/processes/{MINE}/resume", json={"reason": "Over"})
    assert resumed.json()["after"] == "stakeholder_identification"


@sqlite_only
def test_malformed_bodies_are_refused_before_anything_is_done(site: Site) -> None:
    api = bearer(site, COORDINATOR)
    no_reason = api.post(f"/api/processes/{MINE}/suspend", json={})
    assert no_reason.status_code == 422
    extra = api.post(f"/api/processes/{MINE}/advance", json={"force": True})
    assert extra.status_code == 422
    huge = api.post(
        f"/api/processes/{MINE}/requests",
        content=b'{"kind": "' + b"x" * (2 * 1024 * 1024) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    assert processes.status(site.ctx, MINE).state == "stakeholder_identification"


def test_the_report_covers_only_the_processes_the_caller_follows(site: Site) -> None:
    report = bearer(site, MANAGER).get("/api/report", params={"horizon": 5})
    assert report.status_code == 200
    body = report.json()
    assert body["horizon_days"] == 5 and [p["key"] for p in body["processes"]] == [MINE]
    assert "responsiveness" in body["processes"][0] and "steps" in body["processes"][0]
    assert bearer(site, MANAGER).get("/api/report", params={"horizon": 999}).status_code == 422


def test_the_process_list_and_the_report_come_a_page_at_a_time_with_their_totals(
    site: Site,
) -> None:
    api = bearer(site, ADMINISTRATOR)
    every = api.get("/api/processes")
    assert [p["process"] for p in every.json()] == [MINE, THEIRS]
    assert every.headers["X-Total-Count"] == "2"
    second = api.get("/api/processes", params={"limit": 1, "offset": 1})
    assert [p["process"] for p in second.json()] == [THEIRS]
    assert second.headers["X-Total-Count"] == "2"
    assert api.get("/api/processes", params={"offset": 2}).json() == []
    report = api.get("/api/report", params={"limit": 1, "offset": 1}).json()
    assert (report["total"], report["offset"], report["limit"]) == (2, 1, 1)
    assert [p["key"] for p in report["processes"]] == [THEIRS]
    assert api.get("/api/report").json()["limit"] == REPORT_PAGE
    managed = bearer(site, MANAGER).get("/api/processes", params={"limit": 5})
    assert managed.headers["X-Total-Count"] == "1"
    for path, params in (
        ("/api/processes", {"limit": 0}),
        ("/api/processes", {"limit": MAX_LIST_PAGE + 1}),
        ("/api/processes", {"offset": -1}),
        ("/api/report", {"limit": MAX_REPORT_PAGE + 1}),
        ("/api/report", {"offset": "first"}),
    ):
        refused = api.get(path, params=params)
        assert refused.status_code == 422 and refused.json()["error"], (path, params)
