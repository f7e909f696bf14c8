"""Every object a form names by id (or by email) must belong to the process in the URL: a document,
decision, request or person of another process is refused with 404 and a sentence saying so, and
nothing is written, for the process's coordinator and for an administrator who sees both processes.
(Objects named in the path are walked by tests/test_web_access.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select
from webconsole import (
    EMAILS,
    MINE,
    THEIRS,
    Site,
    audit_count,
    logged_in,
    problem_of,
    refused_page,
)

from ibmflow.access import ADMINISTRATOR, COORDINATOR
from ibmflow.services import roster
from ibmflow.storage.tables import DecisionRow, NominationRow, RequestRow

ONLY_THEIRS = "only@tunisia.example"
MEMBER, OTHER_PERSON = "member@borderguard.example", "focal@borderguard.example"


def _rows(site: Site) -> dict[str, Any]:
    with site.ctx.db.reading() as session:

        def count(model: Any) -> int:
            return int(session.exec(select(func.count()).select_from(model)).one())

        return {
            "audit": audit_count(site.ctx),
            "decisions": count(DecisionRow),
            "nominations": count(NominationRow),
            "requests": [(r.id, r.status) for r in session.exec(select(RequestRow))],
        }


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("role", [COORDINATOR, ADMINISTRATOR])
def test_ids_of_another_process_typed_into_forms_are_refused(site: Site, role: str) -> None:
    roster.add_person(
        site.ctx,
        THEIRS,
        name="Only in Tunisia",
        email=ONLY_THEIRS,
        institution="MOF_CUSTOMS",
        roles=["focal_point"],
        deputy_for=None,
        actor="setup",
    )
    mine, theirs = site.objects[MINE], site.objects[THEIRS]
    client, csrf = logged_in(site, EMAILS[role])
    forms: list[tuple[str, dict[str, str], str]] = [
        (
            f"/p/{MINE}/decisions",
            {"subject": "terms_of_reference", "document": str(theirs["document"])},
            f"no document #{theirs['document']} in {MINE}",
        ),
        (
            f"/p/{MINE}/nominations",
            {"member": MEMBER, "representative": OTHER_PERSON, "decision": str(theirs["decision"])},
            f"no decision #{theirs['decision']} in {MINE}",
        ),
        (
            f"/p/{MINE}/quarantine/{mine['inbound']}/assign",
            {"request": str(theirs["request"])},
            f"no request #{theirs['request']} in {MINE}",
        ),
        (
            f"/p/{MINE}/decisions/{mine['decision']}/votes",
            {"institution": "MOF_CUSTOMS", "voter": ONLY_THEIRS, "choice": "approve"},
            f"nobody with email '{ONLY_THEIRS}' in process {MINE}",
        ),
        (
            f"/p/{MINE}/nominations",
            {"member": MEMBER, "representative": ONLY_THEIRS, "valid_from": "2026-01-05"},
            f"nobody with email '{ONLY_THEIRS}' in process {MINE}",
        ),
    ]
    wrong = []
    for path, data, sentence in forms:
        before = _rows(site)
        posted = client.post(path, data={"csrf_token": csrf, **data})
        if "?refused=" not in posted.headers.get("location", ""):
            wrong.append(f"{path} {data}: {posted.status_code}, expected a refusal")
        elif sentence not in problem_of(page := refused_page(client, posted)):
            wrong.append(f"{path} {data}: said {problem_of(page)!r}")
        if _rows(site) != before:
            wrong.append(f"{path} {data}: something was written")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_same_ids_of_the_own_process_are_accepted(site: Site) -> None:
    """The refusals above are about ownership, not about the forms."""
    mine = site.objects[MINE]
    client, csrf = logged_in(site, EMAILS[COORDINATOR])
    opened = client.post(
        f"/p/{MINE}/decisions",
        data={
            "csrf_token": csrf,
            "subject": "terms_of_reference",
            "document": str(mine["document"]),
        },
    )
    assert "done=" in opened.headers["location"], problem_of(client.get(opened.headers["location"]))
    nominated = client.post(
        f"/p/{MINE}/nominations",
        data={
            "csrf_token": csrf,
            "member": MEMBER,
            "representative": OTHER_PERSON,
            "decision": str(mine["decision"]),
        },
    )
    assert "done=" in nominated.headers["location"], problem_of(
        client.get(nominated.headers["location"])
    )
