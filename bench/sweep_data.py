"""The sweep benchmark's data, by bulk inserts: processes cloned from one the services made, their
open requests, the link tokens of their first mails and the rungs the ladder planned for them.

Every row is one the services could have written (the sweep rings them as it would any): a process
copies the template's institutions, people, roles, appointment and step, with new ids; a request
gets its institution's focal points' links and the rungs `ladder.request_rungs` plans, those before
today already sent.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel

from ibmflow import demo
from ibmflow.bootstrap import bootstrap
from ibmflow.config import load_settings
from ibmflow.definitions import Definition
from ibmflow.ladder import Rung, request_rungs
from ibmflow.services import processes, records, roster
from ibmflow.services.context import Context
from ibmflow.storage import migrate
from ibmflow.storage.tables import ProcessRow
from ibmflow.testing import FixedClock

REPO = Path(__file__).resolve().parent.parent
# Wednesday 14 April 2027, 10:00 in Morocco: a working day for every institution; rungs ring at 09:00.
NOW = datetime(2027, 4, 14, 9, 0, tzinfo=UTC)
# A week earlier: when the spare processes' rungs ring (`build(spare=...)`), none of the others'.
SPARE_NOW = NOW - timedelta(days=7)
KINDS = ("self_assessment", "activity_inventory", "chapter_draft", "consultation_comments")
PER_PROCESS, OVERDUE_EVERY = 100, 10
# In foreign-key order: the template's rows are cloned, the last three are made for each request.
CLONED = ("process", "institution", "person", "role", "appointment", "step_record")
TABLES = (*CLONED, "request", "link_token", "rung")
T = SQLModel.metadata.tables


def context(url: str, folder: Path) -> Context:
    """A Context on a fresh, migrated database, its clock a day before NOW."""
    env = {
        "IBMFLOW_DATABASE_URL": url,
        "IBMFLOW_PATHS_DATA_DIR": str(folder / "data"),
        "IBMFLOW_PATHS_WORKFLOWS_DIR": str(REPO / "workflows"),
        "IBMFLOW_PATHS_NOTIFICATIONS_DIR": str(REPO / "notifications"),
        "IBMFLOW_CONFIG": str(REPO / "config.toml"),
    }
    ctx = bootstrap(load_settings(environ=env), clock=FixedClock(NOW - timedelta(days=1)))
    migrate.upgrade(ctx.db)
    return ctx


def _template(ctx: Context, folder: Path) -> None:
    """One process made by the services: the rows every clone copies."""
    key, who = "BENCH-0", demo.COORDINATOR
    processes.start_process(
        ctx, title="Benchmark", key=key, actor=who, country="MA", timezone="Africa/Casablanca"
    )
    path = folder / "roster.toml"
    path.write_text(demo.demo_roster_text(), encoding="utf-8")
    roster.import_roster(ctx, key, path, actor=who)
    records.appoint_coordinator(
        ctx,
        key,
        name="Karim Benali",
        email=who,
        authority="Head of Government",
        reference="Decree 1",
        appointed_on=NOW.date(),
        actor=who,
    )


class Ids:
    """Explicit ids for the bulk inserts, continuing each table's own."""

    def __init__(self, conn: sa.Connection) -> None:
        self.next = {
            name: conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(T[name].c.id), 0))
            ).scalar_one()
            + 1
            for name in TABLES
        }

    def take(self, name: str) -> int:
        self.next[name] += 1
        return int(self.next[name] - 1)


def build(ctx: Context, folder: Path, scale: float, *, spare: int = 0) -> dict[str, int]:
    """The template, its clones, their requests, links and rungs; returns the rows inserted.

    `spare` more clones (keys `SPARE-n`, after the others) have their requests and rungs laid out
    a week earlier: as of `SPARE_NOW`, when nothing else is due (a benchmark's warm-up sweep)."""
    _template(ctx, folder)
    with ctx.db.engine.begin() as conn:
        base = {
            name: [dict(r._mapping) for r in conn.execute(sa.select(T[name]))] for name in CLONED
        }
        step_rungs = [dict(r._mapping) for r in conn.execute(sa.select(T["rung"]))]
        definition = ctx.workflows["ibm_strategy"]  # the version the template was started on
        ids = Ids(conn)
        rows: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
        totals = dict.fromkeys(TABLES, 0)
        count = max(1, round(1000 * scale))
        for n in range(1, count + spare + 1):
            key, now = (f"BENCH-{n:04d}", NOW) if n <= count else (f"SPARE-{n - count}", SPARE_NOW)
            _clone(ctx, base, step_rungs, key, now, ids, rows, definition)
            if n == count + spare or len(rows["rung"]) >= 20_000:
                for name in TABLES:  # all of them, in foreign-key order
                    conn.execute(sa.insert(T[name]), rows[name])
                    totals[name] += len(rows[name])
                    rows[name].clear()
        if ctx.db.engine.dialect.name == "postgresql":
            for name in TABLES:
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"
                )
    with ctx.db.engine.connect() as conn:  # fresh statistics, as autovacuum would gather them
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return totals


def _clone(
    ctx: Context,
    base: dict[str, list[dict[str, Any]]],
    step_rungs: list[dict[str, Any]],
    key: str,
    now: datetime,
    ids: Ids,
    out: dict[str, list[dict[str, Any]]],
    definition: Definition,
) -> None:
    """A process with this key: a copy of the template's rows, then its requests, links and rungs
    as of `now` (NOW, or SPARE_NOW for a spare process)."""
    new_id: dict[tuple[str, int], int] = {}
    refs = {"institution_id": "institution", "person_id": "person", "deputy_for_id": "person"}
    refs |= {"step_record_id": "step_record", "process_id": "process"}
    for name in CLONED:
        for row in base[name]:
            new = {**row, "id": ids.take(name)}
            new_id[name, row["id"]] = new["id"]
            for column, target in refs.items():
                if new.get(column) is not None:
                    new[column] = new_id[target, new[column]]
            out[name].append(new)
    pid = out["process"][-1]["id"]
    out["process"][-1]["key"] = key
    for alert in step_rungs:  # the step's overdue alert, planned when it was entered
        stay = new_id["step_record", alert["step_record_id"]]
        key = f"step:{stay}:{alert['rung']}"
        out["rung"].append(
            {**alert, "id": ids.take("rung"), "key": key, "process_id": pid, "step_record_id": stay}
        )
    focal: dict[int, list[int]] = {}
    for role in base["role"]:
        if role["role"] == "focal_point" and role["active"]:
            institution = new_id["institution", role["institution_id"]]
            focal.setdefault(institution, []).append(new_id["person", role["person_id"]])
    process = ProcessRow(**base["process"][0])  # for its country and time zone
    calendars = [
        (new_id["institution", i["id"]], ctx.calendar(process, i["weekend"]))
        for i in base["institution"]
        if new_id["institution", i["id"]] in focal
    ]
    for j in range(PER_PROCESS):
        institution, cal = calendars[j % len(calendars)]
        kind = KINDS[j % len(KINDS)]
        ladder, today = definition.chase.for_kind(kind), cal.local_day(now)
        assert cal.is_working(today)
        share = (j // OVERDUE_EVERY) % 10  # of the overdue: 0-6 due today, 7 five days, 8-9 ten
        overdue = 0 if share < 7 else 5 if share == 7 else 10
        due_day = cal.add(today, -overdue if j % OVERDUE_EVERY == 0 else 4 + j % 16)
        sent_day = cal.add(due_day, -10)
        rid = ids.take("request")
        sent_at, due_at = cal.at(sent_day, ladder.send_at), cal.end_of(due_day)
        out["request"].append(
            {
                "id": rid,
                "process_id": pid,
                "step": process.state,
                "kind": kind,
                "institution_id": institution,
                "focal_point_id": focal[institution][0],
                "status": "sent",
                "instructions": "Please send your contribution.",
                "sent_at": sent_at,
                "due_at": due_at,
                "reply_key": uuid.uuid4().hex,
                "message_id": f"<ibmflow.bench.{rid}@example.org>",
                "created_by": demo.COORDINATOR,
            }
        )
        for person in focal[institution]:
            out["link_token"].append(
                {
                    "id": ids.take("link_token"),
                    "request_id": rid,
                    "person_id": person,
                    "token_hash": hashlib.sha256(f"{rid}:{person}".encode()).hexdigest(),
                    "created_at": sent_at,
                    "expires_at": due_at + timedelta(days=30),
                }
            )
        planned = request_rungs(ladder, cal, sent_day, due_day)
        if overdue == 10 and j % OVERDUE_EVERY == 0:  # overdue:5 was sent, overdue:10 is next
            planned.append(Rung(cal.add(due_day, 10), "overdue:10"))
        for rung in planned:
            fire_at, done = cal.at(rung.day, ladder.send_at), rung.day < today
            out["rung"].append(
                {
                    "id": ids.take("rung"),
                    "key": f"request:{rid}:{rung.name}",
                    "process_id": pid,
                    "request_id": rid,
                    "step_record_id": None,
                    "rung": rung.name,
                    "due_on": rung.day,
                    "fire_at": fire_at,
                    "status": "sent" if done else "pending",
                    "claimed_by": None,
                    "claimed_until": None,
                    "done_at": fire_at if done else None,
                    "outcome": f"sent to {len(focal[institution])}" if done else None,
                }
            )
