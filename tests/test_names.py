"""Names and titles are checked once, the same way whatever the channel: the pure check, the command
line, the roster (TOML and CSV) and the console's forms refuse control characters, line and paragraph
separators and invisible formatting characters, trim the ends, and cap the length; every refusal
names the field and what is wrong, and records nothing."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from clirun import Cli, invoker, on_database
from webconsole import EMAILS, MINE, Site, audit_count, logged_in, problem_of, refused_page

from ibmflow import text
from ibmflow.access import COORDINATOR
from ibmflow.errors import InvalidCommand, RosterError
from ibmflow.roster import CSV_COLUMNS, parse_roster_text
from ibmflow.services import accounts, decisions, records
from ibmflow.services.context import Context

# Each refused character, with the escape that error messages show instead of it.
REFUSED = {
    "CR": ("\r", "\\x0d"),
    "LF": ("\n", "\\x0a"),
    "NUL": ("\x00", "\\x00"),
    "TAB": ("\t", "\\x09"),
    "NEL U+0085": ("\x85", "\\x85"),
    "LINE SEPARATOR U+2028": ("\u2028", "\\u2028"),
    "PARAGRAPH SEPARATOR U+2029": ("\u2029", "\\u2029"),
    "RIGHT-TO-LEFT OVERRIDE U+202E": ("\u202e", "\\u202e"),
    "ZERO WIDTH SPACE U+200B": ("\u200b", "\\u200b"),
    "BYTE ORDER MARK U+FEFF": ("\ufeff", "\\ufeff"),
    "lone surrogate": ("\udc80", "\\udc80"),
}


# --- the one check ------------------------------------------------------------------------------


@pytest.mark.parametrize(("char", "shown"), REFUSED.values(), ids=REFUSED)
@pytest.mark.parametrize("at", ["inside", "end"])
def test_a_name_with_a_control_separator_or_invisible_character_is_refused(
    char: str, shown: str, at: str
) -> None:
    """Even at the end, where trimming would hide it; the message shows it escaped, on one line."""
    value = f"Customs{char}Directorate" if at == "inside" else f"Customs Directorate{char}"
    with pytest.raises(InvalidCommand) as refused:
        text.clean(value, text.SHORT_NAME)
    message = str(refused.value)
    assert message.startswith("the institution's short name ")
    assert shown in message and char not in message
    assert ("give it as UTF-8 text" if char == "\udc80" else "write it on one line") in message


@pytest.mark.parametrize(
    "value",
    [
        "Ministère de l'Intérieur",
        "\u0648\u0632\u0627\u0631\u0629 \u0627\u0644\u062f\u0627\u062e\u0644\u064a\u0629",
        "Direction générale\u00a0des douanes",  # a no-break space inside
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian needs U+200C ZWNJ
        "Border Guard 🛂",
    ],
)
def test_names_in_any_script_are_accepted(value: str) -> None:
    assert text.clean(value, text.INSTITUTION_NAME) == value


def test_the_ends_are_trimmed_and_the_text_composed_the_same_way_everywhere() -> None:
    decomposed = unicodedata.normalize("NFD", "  Amina El Idrissi, Ministère  ")
    assert text.clean(decomposed, text.PERSON_NAME) == "Amina El Idrissi, Ministère"


def test_an_empty_or_missing_name_is_refused_with_an_example() -> None:
    for value in (None, "", " \u00a0 "):
        with pytest.raises(InvalidCommand, match="the process title is required"):
            text.clean(value, text.PROCESS_TITLE)


def test_a_name_longer_than_its_field_is_refused_with_the_limit() -> None:
    assert text.clean("x" * 300, text.PROCESS_TITLE) == "x" * 300
    with pytest.raises(InvalidCommand) as refused:
        text.clean("x" * 301, text.PROCESS_TITLE)
    assert "is 301 characters long; shorten it to at most 300" in str(refused.value)
    assert len(str(refused.value)) < 300, "the message does not repeat a long value whole"


# --- the command line ---------------------------------------------------------------------------


@pytest.fixture
def cli(
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    """Run `ibmflow ARGS...` in-process on a migrated database; return (code, stdout, stderr)."""
    on_database(env, tmp_path, monkeypatch)
    invoke = invoker(capsys)
    invoke("init")
    return invoke


@pytest.mark.parametrize("title", ["Morocco\r\nX-Injected: 1", "Morocco\u2028strategy"])
def test_process_start_refuses_a_title_on_two_lines_and_starts_nothing(
    cli: Cli, title: str
) -> None:
    _, _, err = cli("process", "start", "--title", title, "--key", "MA-9", expect=1)
    assert "the process title" in err and "write it on one line" in err
    assert "Traceback" not in err
    assert json.loads(cli("process", "list", "--json")[1]) == []


def test_process_start_refuses_a_key_with_a_line_break(cli: Cli) -> None:
    _, _, err = cli("process", "start", "--title", "Morocco", "--key", "MA-9\n", expect=1)
    assert "process key" in err
    assert json.loads(cli("process", "list", "--json")[1]) == []


def test_process_start_trims_the_title(cli: Cli) -> None:
    cli("process", "start", "--title", "  Morocco national IBM strategy ", "--key", "MA-9")
    assert json.loads(cli("status", "MA-9", "--json")[1])["title"] == (
        "Morocco national IBM strategy"
    )


COMMANDS = {
    "task force": (("taskforce", "add", "MA-9", "Task\u2028force"), "the task force's name"),
    "chapter": (("chapter", "add", "MA-9", "Border\nchecks"), "the chapter's title"),
    "chapter lead": (
        ("chapter", "add", "MA-9", "Border checks", "--lead", "MOI\x85"),
        "the chapter's lead",
    ),
    "decision": (
        ("decision", "open", "MA-9", "--subject", "other", "--title", "Adopt\r\nBcc: x@y.z"),
        "the decision's title",
    ),
    "person": (
        (
            "person",
            "add",
            "MA-9",
            "--name",
            "Amina\u2029",
            "--email",
            "a@customs.example",
            "--institution",
            "MOF_CUSTOMS",
            "--role",
            "focal_point",
        ),
        "the person's name",
    ),
    "appointment": (
        (
            "appoint",
            "MA-9",
            "--name",
            "Karim Benali",
            "--email",
            "k@interior.example",
            "--authority",
            "Head\rof Government",
            "--reference",
            "Decree 2",
            "--on",
            "2026-01-05",
        ),
        "the appointing authority",
    ),
    "account": (
        (
            "user",
            "add",
            "k@interior.example",
            "--name",
            "Karim\nBenali",
            "--role",
            "manager",
            "--password-stdin",
        ),
        "the account's name",
    ),
}


@pytest.mark.parametrize(("args", "field"), COMMANDS.values(), ids=COMMANDS)
def test_every_command_that_takes_a_name_refuses_it_the_same_way(
    cli: Cli, args: tuple[str, ...], field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("process", "start", "--title", "Morocco", "--key", "MA-9")
    before = cli("audit", "log", "MA-9", "--json")[1]
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("a long enough password\n"))
    _, _, err = cli(*args, expect=1)
    assert field in err and "write it on one line" in err, err
    assert "Traceback" not in err
    assert cli("audit", "log", "MA-9", "--json")[1] == before


def test_person_add_says_what_is_wrong_in_the_words_of_the_command(cli: Cli) -> None:
    """Not "problem(s) in the roster ... person[1].name": `person add` has no roster file."""
    cli("process", "start", "--title", "Morocco", "--key", "MA-9")
    before = cli("roster", "show", "MA-9", "--json")[1]
    person = ("person", "add", "MA-9", "--email", "amina@customs.example")
    _, _, err = cli(*person, "--name", "Amina\u2029", "--role", "manager", expect=1)
    assert err.strip() == (
        'error: person add: the person\'s name "Amina\\u2029" contains a line or paragraph '
        "separator (\\u2029); write it on one line, as plain text"
    ), err
    _, _, err = cli(
        "person", "add", "MA-9", "--name", "Amina", "--email", "amina", "--role", "boss",
        "--institution", "NOWHERE", expect=1,
    )  # fmt: skip
    lines = err.strip().splitlines()
    assert lines[0] == "error: person add: 3 problems; nobody was added:", err
    assert sorted(lines[1:]) == sorted(
        [
            '  the person\'s email "amina" is not an email address; write it as name@domain',
            '  the role "boss" is not one of focal_point, iawg_member, chair, manager, coordinator',
            "  the institution NOWHERE is not an institution of this process; import it with a "
            "roster or correct the code",
        ]
    ), err
    assert "person[1]" not in err and "roster;" not in err
    assert cli("roster", "show", "MA-9", "--json")[1] == before


# --- the roster ---------------------------------------------------------------------------------

ROSTER_TOML = """\
[[institution]]
code = "MOF_CUSTOMS"
name = "{name}"
short_name = "{short}"
category = "permanent"

[[person]]
name = "{person}"
email = "amina@customs.example"
institution = "MOF_CUSTOMS"
roles = ["focal_point"]
"""


@pytest.mark.parametrize(("char", "shown"), [("\u2028", "\\u2028"), ("\x85", "\\x85")])
@pytest.mark.parametrize(
    ("key", "where"),
    [("name", "institution[1].name"), ("short", "institution[1].short_name"),
     ("person", "person[1].name")],
)  # fmt: skip
def test_a_toml_roster_refuses_line_separators_in_names_by_record_and_key(
    char: str, shown: str, key: str, where: str
) -> None:
    values = {"name": "Customs", "short": "Customs", "person": "Amina El Idrissi"}
    values[key] = f"Amina{char}El Idrissi"
    with pytest.raises(RosterError) as refused:
        parse_roster_text(ROSTER_TOML.format(**values), fmt="toml", filename="roster.toml")
    [problem] = refused.value.problems
    assert problem.where == where
    assert shown in problem.what and "write it on one line" in problem.what


@pytest.mark.parametrize(("char", "shown"), [("\u2028", "\\u2028"), ("\x85", "\\x85")])
@pytest.mark.parametrize("column", ["institution_name", "short_name", "person_name"])
def test_a_csv_roster_refuses_line_separators_in_names_by_row_and_column(
    char: str, shown: str, column: str
) -> None:
    cells = {
        "institution_code": "MOF_CUSTOMS",
        "institution_name": "Customs",
        "short_name": "Customs",
        "category": "permanent",
        "person_name": "Amina",
        "email": "amina@customs.example",
        "roles": "focal_point",
    }
    cells[column] = f"Amina{char}El Idrissi"
    row = ",".join(cells.get(name, "") for name in CSV_COLUMNS)
    with pytest.raises(RosterError) as refused:
        parse_roster_text(f"{','.join(CSV_COLUMNS)}\n{row}\n", fmt="csv", filename="roster.csv")
    [problem] = refused.value.problems
    assert problem.where == f"row 2, {column}"
    assert shown in problem.what and "write it on one line" in problem.what


def test_a_roster_refuses_a_name_too_long_for_its_field() -> None:
    values = {"name": "Customs", "short": "C" * 121, "person": "Amina"}
    with pytest.raises(RosterError) as refused:
        parse_roster_text(ROSTER_TOML.format(**values), fmt="toml", filename="roster.toml")
    [problem] = refused.value.problems
    assert problem.where == "institution[1].short_name" and "at most 120" in problem.what


# --- the services the console and the API call -------------------------------------------------


def test_the_services_check_what_they_store_whoever_calls_them(ctx: Context) -> None:
    from ibmflow.services import processes

    processes.start_process(ctx, title="Morocco", key="MA-9", actor="chair@interior.example")
    with pytest.raises(InvalidCommand, match="the decision's title"):
        decisions.open_decision(ctx, "MA-9", subject="other", title="A\u2028B", actor="c")
    accounts.add_user(
        ctx, email="k@interior.example", name=" Karim Benali ", role="manager",
        password="a long enough password", actor="setup",
    )  # fmt: skip
    with pytest.raises(InvalidCommand, match="the token's label"):
        accounts.issue_token(ctx, "k@interior.example", label="CI\r\nX: 1", actor="setup")
    with pytest.raises(InvalidCommand, match="the adopting authority"):
        records.record_adoption(
            ctx, "MA-9", authority="Council\n", reference="1", adopted_on=ctx.clock.now().date(),
            actor="c",
        )  # fmt: skip


# --- the console --------------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_consoles_forms_refuse_a_name_on_two_lines_and_say_which_field(site: Site) -> None:
    client, csrf = logged_in(site, EMAILS[COORDINATOR])
    before = audit_count(site.ctx)
    for path, data, field in (
        (f"/p/{MINE}/task-forces", {"name": "Task\u2028force"}, "the task force's name"),
        (f"/p/{MINE}/chapters", {"title": "Border\r\nchecks"}, "the chapter's title"),
        (
            f"/p/{MINE}/decisions",
            {"subject": "other", "title": "Adopt\r\nBcc: x@y.example"},
            "the decision's title",
        ),
    ):
        refused = refused_page(client, client.post(path, data={"csrf_token": csrf, **data}))
        assert field in problem_of(refused) and "write it on one line" in problem_of(refused)
    assert audit_count(site.ctx) == before
