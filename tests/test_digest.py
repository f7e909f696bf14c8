"""The weekly digest to managers, on SQLite and PostgreSQL: once per manager and ISO week, never for
a finished process, the report's own figures, on the audit chain, and safe from two workers at once."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import deadline_scenario as sc
from outboxtext import with_text
from sqlmodel import col, select

from ibmflow import demo, i18n
from ibmflow.bootstrap import bootstrap
from ibmflow.definitions import load_definition
from ibmflow.services import audit_log, processes, roster
from ibmflow.services.context import Context
from ibmflow.services.digest import DigestSent, iso_week, send_digests
from ibmflow.services.reports import deadline_report
from ibmflow.storage.tables import AuditEventRow, OutboxRow, PersonRow
from ibmflow.testing import FixedClock


def _digests(ctx: Context) -> list[OutboxRow]:
    with ctx.db.reading() as session:
        rows = list(
            session.exec(
                select(OutboxRow).where(OutboxRow.kind == "digest").order_by(col(OutboxRow.id))
            )
        )
        session.expunge_all()  # keep them loaded: the read session rolls back on exit
        return with_text(ctx, rows)  # as the dispatcher renders them


def _digest_events(ctx: Context) -> list[AuditEventRow]:
    with ctx.db.reading() as session:
        rows = list(
            session.exec(
                select(AuditEventRow)
                .where(AuditEventRow.action == "digest.sent")
                .order_by(col(AuditEventRow.seq))
            )
        )
        session.expunge_all()
        return rows


def test_each_manager_gets_one_digest_a_week(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    sc.build(ctx, clock, tmp_path)
    first = send_digests(ctx, sc.AT)
    assert sorted(s.recipient for s in first) == sorted(sc.MANAGERS)
    assert {s.week for s in first} == {"2026-W04"}
    assert send_digests(ctx, sc.AT) == []  # the same moment again
    assert send_digests(ctx, sc.AT + timedelta(days=3)) == []  # later the same week
    assert [sorted(row.to_addrs) for row in _digests(ctx)] == [[a] for a in sorted(sc.MANAGERS)]

    following = send_digests(ctx, sc.AT + timedelta(days=7))
    assert {(s.recipient, s.week) for s in following} == {(a, "2026-W05") for a in sc.MANAGERS}
    assert len(_digests(ctx)) == 4
    assert {row.dedupe_key for row in _digests(ctx)} == {s.dedupe_key for s in first + following}


def test_the_digest_carries_the_reports_figures(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    built = sc.build(ctx, clock, tmp_path)
    sent = send_digests(ctx, sc.AT)
    report = deadline_report(ctx, [sc.KEY], at=sc.AT).process(sc.KEY)
    assert all(s.figures == report.figures() for s in sent)
    row = _digests(ctx)[0]
    assert row.subject == f"[{sc.KEY}] Weekly deadlines 2026-W04: 2 overdue, 2 falling due"
    text = row.text_body
    assert "Overdue: 2\n" in text
    assert (
        '- Step "Identification of a national coordinator": due Monday 29 December 2025, '
        "14 working days overdue\n"
    ) in text
    request = built.ids[sc.CUSTOMS, "C"]
    assert (
        f"- Chapter draft from Customs Directorate (request #{request}): due Monday 12 January "
        "2026, 5 working days overdue\n"
    ) in text
    assert "Falling due in the next 10 working days: 2\n" in text
    assert "in 1 working day\n" in text and "in 10 working days\n" in text
    # Issue 13: the share counts the unanswered overdue requests too, and always shows its counts.
    assert (
        "- Customs Directorate: on time 1 of 3 (33%); median days late: 4; "
        "overdue and unanswered: 1\n"
    ) in text
    assert (
        "- Veterinary Inspection: on time 1 of 3 (33%); median days late: 2; "
        "overdue and unanswered: 0\n"
    ) in text
    assert "- Ministry of Health: on time: no deadline passed yet\n" in text
    assert "answers on time" not in text
    assert "Dear Aicha Ouazzani," in text or "Dear Karim Programme," in text
    assert row.html_body is not None and "<td style" in row.html_body
    html = " ".join(row.html_body.split())
    assert ">1 of 3 (33%)</td>" in html and ">no deadline passed yet</td>" in html


def test_each_digest_is_on_the_audit_chain_which_still_verifies(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    sc.build(ctx, clock, tmp_path)
    send_digests(ctx, sc.AT)
    send_digests(ctx, sc.AT)
    (event,) = _digest_events(ctx)
    assert (event.actor, event.process, event.entity) == (
        "system:digest",
        sc.KEY,
        f"process:{sc.KEY}",
    )
    after = json.loads(event.after_json or "{}")
    assert after == {
        "week": "2026-W04",
        "recipients": list(sc.MANAGERS),
        "figures": {
            "overdue_steps": 1,
            "overdue_requests": 1,
            "falling_due": 2,
            "open_requests": 4,
        },
    }
    assert audit_log.verify_chain(ctx).ok


def test_an_adopted_process_gets_no_digest(ctx: Context, clock: FixedClock) -> None:
    demo.drive(ctx, "DEMO-1")  # the demo roster has a manager
    assert processes.status(ctx, "DEMO-1").state == "adopted"
    assert send_digests(ctx, clock.now() + timedelta(days=1)) == []
    assert _digests(ctx) == [] and _digest_events(ctx) == []


def test_a_process_without_managers_gets_none_and_a_suspended_one_still_does(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    processes.start_process(ctx, title="No managers", key="MA-NONE", actor=sc.COORDINATOR)
    sc.start(ctx, clock, tmp_path, key="MA-SUSP")
    processes.fire(ctx, "MA-SUSP", "suspend", actor=sc.COORDINATOR, reason="elections")
    sent = send_digests(ctx, clock.now())
    assert {s.process for s in sent} == {"MA-SUSP"}
    assert "(the process is suspended)" in _digests(ctx)[0].text_body


def test_the_week_is_the_process_time_zone_s() -> None:
    """Sunday 23:30 UTC is already Monday 00:30 in Casablanca (UTC+1): the next ISO week."""
    sunday_night = datetime(2026, 1, 25, 23, 30, tzinfo=UTC)
    assert iso_week(sunday_night, "UTC") == "2026-W04"
    assert iso_week(sunday_night, "Africa/Casablanca") == "2026-W05"
    assert iso_week(datetime(2027, 1, 1, 12, 0, tzinfo=UTC), "UTC") == "2026-W53"


def test_the_html_digest_escapes_what_people_typed(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    processes.start_process(
        ctx, title='Roads & <img src=x onerror="alert(1)">', key="MA-ESC", actor=sc.COORDINATOR
    )
    roster.import_roster(ctx, "MA-ESC", sc.roster_file(tmp_path), actor=sc.COORDINATOR)
    send_digests(ctx, clock.now())
    html = _digests(ctx)[0].html_body or ""
    assert "<img" not in html
    assert "Roads &amp; &lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html


def test_two_workers_sending_at_once_write_each_digest_once(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    """Two workers with their own connections, released together by a barrier: the process lock
    and the check before insert leave exactly one digest per manager, one audit event, no error."""
    sc.build(ctx, clock, tmp_path)
    barrier = threading.Barrier(2)
    results: list[list[DigestSent] | BaseException] = []

    def worker() -> None:
        own = bootstrap(replace(ctx.settings), clock=FixedClock(sc.AT))
        try:
            barrier.wait(timeout=30)
            results.append(send_digests(own, sc.AT))
        except BaseException as exc:  # reported below
            results.append(exc)
        finally:
            own.db.dispose()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(isinstance(r, list) for r in results), results
    sent = [s for r in results if isinstance(r, list) for s in r]
    assert sorted(s.recipient for s in sent) == sorted(sc.MANAGERS)
    assert len(_digests(ctx)) == 2 and len(_digest_events(ctx)) == 1
    assert audit_log.verify_chain(ctx).ok


def test_a_french_manager_reads_the_digest_with_french_step_titles(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    """The report a digest carries is worded in each manager's language, step titles included
    (the workflow's French), not once in English for all."""
    sc.build(ctx, clock, tmp_path)
    french, english = sc.MANAGERS
    with ctx.db.transaction() as tx:
        person = tx.session.exec(select(PersonRow).where(PersonRow.email == french)).one()
        person.language = "fr"
        tx.session.add(person)
    send_digests(ctx, sc.AT)
    by_address = {row.to_addrs[0]: row for row in _digests(ctx)}
    fr_text, en_text = by_address[french].text_body, by_address[english].text_body
    assert "Now at:" in en_text and "Now at:" not in fr_text
    state = processes.status(ctx, sc.KEY).state
    definition = load_definition(ctx.settings.workflows_dir / "ibm_strategy.toml")
    with i18n.using("fr"):
        title_fr = definition.state(state).title
    with i18n.using("en"):
        title_en = definition.state(state).title
    assert title_fr != title_en
    assert title_fr in fr_text and title_en not in fr_text, fr_text[:600]
    assert title_en in en_text
