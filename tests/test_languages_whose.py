"""Whose language: every person, institution, process and account has one; every mail goes in its
recipient's language (rendered once per language), and the console follows the account's.

The mails are read at the SMTP level after `ibmflow mail dispatch`. Their templates here are marker
templates that print the language they are rendered in (`current_language()`), so that these tests
check WHO gets WHICH language whatever the state of the translations."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from collections.abc import Callable
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from clirun import Cli, invoker, on_database
from smtpsink import Sink, deliver, outgoing
from sqlmodel import select
from webserver import start as start

from ibmflow.mail.render import MESSAGE_KINDS
from ibmflow.services import accounts, chase, digest, languages, mailings, processes, records
from ibmflow.services.context import Context
from ibmflow.storage import repository as repo
from ibmflow.storage.queries import accounts as account_queries
from ibmflow.storage.tables import RequestRow
from ibmflow.testing import FixedClock

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

KEY = "MA-LANG"
COORDINATOR = "coordinator@interior.example"
PASSWORD = "a long enough password"
ROSTER = """
[[institution]]
code = "MOA_VETERINARY"
name = "Ministry of Agriculture - Veterinary Inspection"
short_name = "Veterinary Inspection"
category = "permanent"
language = "fr"

[[person]]
name = "Amina El Idrissi"
email = "amina@customs.example"
institution = "MOF_CUSTOMS"
roles = ["focal_point"]

[[person]]
name = "Luc Diallo"
email = "luc@customs.example"
institution = "MOF_CUSTOMS"
roles = ["focal_point"]
language = "fr"

[[person]]
name = "Omar Fassi"
email = "omar@veterinary.example"
institution = "MOA_VETERINARY"
roles = ["focal_point"]

[[person]]
name = "Sara Bennis"
email = "sara@veterinary.example"
institution = "MOA_VETERINARY"
roles = ["focal_point"]
language = "en"

[[person]]
name = "Aicha Ouazzani"
email = "manager@cabinet.example"
roles = ["manager"]
"""
# Who reads what: their own language, else their institution's, else the process's (English here).
EXPECTED = {
    "amina@customs.example": "en",  # nothing of her own: the process's
    "luc@customs.example": "fr",  # his own
    "omar@veterinary.example": "fr",  # his institution's
    "sara@veterinary.example": "en",  # her own, over her institution's
}


def _marker_templates(folder: Path) -> Path:
    """Templates printing the language they are rendered in, for every message kind, whether the
    renderer looks for `KIND.*` or `LANGUAGE/KIND.*`."""
    for sub in ("", "en", "fr", "en_XA"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        for kind in MESSAGE_KINDS:
            (folder / sub / f"{kind}.subject.txt").write_text(
                f"[{{{{ process.key }}}}] {kind} lang={{{{ current_language() }}}}\n"
            )
            (folder / sub / f"{kind}.txt").write_text(f"{kind} LANG={{{{ current_language() }}}}\n")
            (folder / sub / f"{kind}.html").write_text(
                f"<p>{kind} LANG={{{{ current_language() }}}}</p>\n"
            )
    return folder


def _lang(message: EmailMessage) -> str:
    found = re.search(r"lang=(\w+)", str(message["Subject"]))
    assert found, message["Subject"]
    return found.group(1)


@pytest.fixture
def cli(
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    on_database(env, tmp_path, monkeypatch)
    return invoker(capsys)


@pytest.fixture
def marked(ctx: Context, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Context:
    """`ctx` (and the command line, set up first) rendering the marker templates."""
    folder = _marker_templates(tmp_path / "notifications")
    monkeypatch.setenv("IBMFLOW_PATHS_NOTIFICATIONS_DIR", str(folder))
    ctx.settings = dataclasses.replace(ctx.settings, notifications_dir=folder)
    return ctx


def _at_stakeholders(ctx: Context, cli: Cli, tmp_path: Path) -> None:
    """KEY started in English with `process start --language en`, its coordinator appointed, the
    step completed, and ROSTER imported: the acknowledgement requests go to the focal points."""
    cli("process", "start", "--title", "Strategy", "--key", KEY, "--language", "en")
    records.appoint_coordinator(
        ctx,
        KEY,
        name="Karim Benali",
        email=COORDINATOR,
        authority="Head of Government",
        reference="Decree 2.26.101",
        appointed_on=date(2026, 1, 5),
        actor="cli:coordinator",
    )
    processes.fire(ctx, KEY, "complete", actor=COORDINATOR)
    path = tmp_path / "roster.toml"
    path.write_text(ROSTER, encoding="utf-8")
    cli("roster", "import", KEY, str(path), "--as", COORDINATOR)


def _dispatched(cli: Cli, sink: Sink, monkeypatch: pytest.MonkeyPatch, ctx: Context) -> None:
    """`ibmflow mail dispatch --once` to the SMTP sink."""
    monkeypatch.setenv("IBMFLOW_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("IBMFLOW_SMTP_PORT", str(ctx.settings.smtp_port))
    monkeypatch.setenv("IBMFLOW_SMTP_SECURITY", "none")
    cli("mail", "dispatch", "--once")


def test_each_focal_point_gets_the_request_in_their_own_language(
    marked: Context, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Customs has an English and a French focal point: one English and one French request mail;
    Veterinary Inspection reads French but one of its people reads English."""
    ctx = marked
    with outgoing(ctx) as sink:
        _at_stakeholders(ctx, cli, tmp_path)
        _dispatched(cli, sink, monkeypatch, ctx)
        got: dict[str, list[EmailMessage]] = {}
        for to, message in sink.messages:
            for address in to:
                got.setdefault(address, []).append(message)
    for address, lang in EXPECTED.items():
        requests_ = [m for m in got[address] if "request" in str(m["Subject"])]
        assert len(requests_) == 1, (address, [m["Subject"] for m in got[address]])
        assert _lang(requests_[0]) == lang, address
        body = requests_[0].get_body(("plain",))
        assert body is not None and f"LANG={lang}" in body.get_content()
    shown = json.loads(cli("roster", "show", KEY, "--json")[1])
    assert {p["email"]: p["language"] for p in shown["people"]}.items() >= EXPECTED.items()
    assert {i["code"]: i["language"] for i in shown["institutions"]}["MOA_VETERINARY"] == "fr"
    # The resolution is the one the answer page asks for.
    with ctx.db.reading() as session:
        process = repo.get_process(session, KEY)
        for address, lang in EXPECTED.items():
            person = repo.person(session, process, address)
            assert languages.language_of_person(ctx, session, person) == lang


def test_reminders_and_notices_go_in_each_recipients_language(
    marked: Context, cli: Cli, clock: FixedClock, tmp_path: Path
) -> None:
    """A French person gets French reminders; a notice to many people is rendered once per language
    and each person still gets one mail."""
    ctx = marked
    with outgoing(ctx) as sink:
        _at_stakeholders(ctx, cli, tmp_path)
        deliver(ctx, sink)
        with ctx.db.reading() as session:  # the command line's clock is the real one
            due = max(r.due_at for r in session.exec(select(RequestRow)) if r.due_at)
        clock.at = due + timedelta(days=8)
        chase.sweep(ctx)
        got = deliver(ctx, sink)
    for address, lang in EXPECTED.items():
        assert got.get(address), f"{address} was not reminded"
        assert {_lang(m) for m in got[address]} == {lang}, address
    # One notice, three languages' worth of people: one mail each, in each one's language.
    with ctx.db.transaction() as tx:
        process = repo.get_process(tx.session, KEY, lock=True)
        to = [*EXPECTED, "manager@cabinet.example"]
        ids = mailings.announce(
            ctx,
            tx,
            process,
            "step_completed",
            to,
            {"step": {"id": "x", "title": "X"}},
            ctx.clock.now(),
        )
        assert len(ids) == len(to)
    with outgoing(ctx) as sink:
        got = deliver(ctx, sink)
    assert {a: [_lang(m) for m in got[a]] for a in to} == {
        **{a: [lang] for a, lang in EXPECTED.items()},
        "manager@cabinet.example": ["en"],
    }


def test_the_digest_follows_the_managers_account(
    marked: Context, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A manager with no language on the roster whose console account reads French gets the weekly
    digest in French; `user add --language` and `user list` say it."""
    ctx = marked
    _at_stakeholders(ctx, cli, tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PASSWORD}\n{PASSWORD}\n"))
    cli(
        "user", "add", "manager@cabinet.example", "--name", "Aicha Ouazzani", "--role", "manager",
        "--process", KEY, "--language", "fr", "--password-stdin",
    )  # fmt: skip
    (sent,) = digest.send_digests(ctx, ctx.clock.now(), keys=[KEY])
    with outgoing(ctx) as sink:
        got = deliver(ctx, sink)
    assert [_lang(m) for m in got[sent.recipient]] == ["fr"]
    _, listed, _ = cli("user", "list", "--json")
    assert [(r["email"], r["language"]) for r in json.loads(listed)] == [
        ("manager@cabinet.example", "fr")
    ]
    _, table, _ = cli("user", "list")
    assert re.search(r"manager@cabinet\.example.*\bfr\b", table)
    _, _, err = cli(
        "user", "add", "x@cabinet.example", "--name", "X", "--role", "manager",
        "--language", "de", "--password-stdin", expect=1,
    )  # fmt: skip
    assert "language 'de' is not offered; give one of en, fr" in err
    cli("user", "language", "manager@cabinet.example", "en")
    with ctx.db.reading() as session:
        row = account_queries.by_email(session, "manager@cabinet.example")
        assert row is not None and row.language == "en"


def test_a_roster_language_is_checked_like_every_roster_value(
    ctx: Context, cli: Cli, tmp_path: Path
) -> None:
    """`language` of a person (TOML) or an institution (CSV `institution_language`) must be offered:
    a clear `FILE: where: what`; a process's language too."""
    cli("process", "start", "--title", "Strategy", "--key", KEY)
    bad = tmp_path / "bad.toml"
    bad.write_text(ROSTER.replace('language = "fr"\n\n[[person]]', 'language = "de"\n\n[[person]]'))
    _, _, err = cli("roster", "import", KEY, str(bad), "--as", "cli:coordinator", expect=1)
    assert f'{bad}: person[2].language: language "de" is not one of en, fr' in err
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text(
        "institution_code,institution_name,category,person_name,email,roles,institution_language\n"
        "MOF_CUSTOMS,Customs,permanent,Amina,amina@customs.example,focal_point,Klingon\n"
    )
    _, _, err = cli("roster", "import", KEY, str(csv_file), "--as", "cli:coordinator", expect=1)
    assert f'{csv_file}: row 2, institution_language: language "klingon" is not one of en' in err
    _, _, err = cli(
        "process", "start", "--title", "T", "--key", "MA-X", "--language", "de", expect=1
    )
    assert "language 'de' is not offered" in err
    with ctx.db.reading() as session:
        assert repo.get_process(session, KEY).language == "en"  # the deployment's default


def test_the_console_follows_the_accounts_language(
    ctx: Context, tmp_path: Path, start: Callable[[Context], str]
) -> None:
    """Login puts the account's language in the `ibmflow_lang` cookie. A `?lang=` link only changes
    this browser's language: a link from another site must not change the account. The header's
    switch posts (with the form's CSRF token), and that is kept as the account's own (audited), so
    the next login follows it."""
    url = start(ctx)
    processes.start_process(ctx, title="Strategy", key=KEY, actor="setup")
    accounts.add_user(
        ctx,
        email=COORDINATOR,
        name="Karim Benali",
        role="coordinator",
        password=PASSWORD,
        processes=[KEY],
        actor="setup",
        language="fr",
    )

    def log_in(client: httpx.Client) -> httpx.Response:
        form = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token
        return client.post(
            "/login",
            data={"csrf_token": token.group(1), "email": COORDINATOR, "password": PASSWORD},
        )

    with httpx.Client(base_url=url, timeout=30) as client:
        response = log_in(client)
        assert response.status_code == 303
        assert client.cookies.get("ibmflow_lang") == "fr"
        page = client.get("/processes")
        assert page.status_code == 200 and 'lang="fr"' in page.text
        assert client.get("/processes", params={"lang": "en"}).status_code == 200
        with ctx.db.reading() as session:
            row = account_queries.by_email(session, COORDINATOR)
            assert row is not None and row.language == "fr"  # a GET changed nothing stored
        page = client.get("/processes")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        forged = client.post("/language", data={"lang": "en", "next": "/processes"})
        assert forged.status_code == 403
        switched = client.post(
            "/language",
            data={"csrf_token": token.group(1), "lang": "en", "next": "/processes"},
        )
        assert switched.status_code == 303
        assert switched.headers["location"] == "/processes?lang=en"
        unknown = client.post(
            "/language", data={"csrf_token": token.group(1), "lang": "xx", "next": "//evil"}
        )
        assert unknown.status_code == 303 and unknown.headers["location"] == "/attention"
    with ctx.db.reading() as session:
        row = account_queries.by_email(session, COORDINATOR)
        assert row is not None and row.language == "en"
    with httpx.Client(base_url=url, timeout=30) as client:
        client.cookies.set("ibmflow_lang", "fr", domain="127.0.0.1")  # this browser's before
        response = log_in(client)
        assert "ibmflow_lang=en" in response.headers.get("set-cookie", "")
        assert client.cookies.get("ibmflow_lang", domain="127.0.0.1") == "en"  # the account's
