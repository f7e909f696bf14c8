"""Tests of the roster parser: valid rosters become frozen records; every mistake is reported."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from ibmflow.errors import Problem, RosterError
from ibmflow.roster import (
    CSV_COLUMNS,
    Roster,
    RosterInstitution,
    RosterPerson,
    default_roster,
    parse_roster,
    parse_roster_text,
)

ROSTERS = Path(__file__).parent / "rosters"
DASH = "\N{EN DASH}"  # the ToR annex writes "Ministry of Finance <en dash> Customs..."
HEADER = ",".join(CSV_COLUMNS)
CUSTOMS = {"code": "MOF_CUSTOMS", "name": "Customs Directorate", "category": "permanent"}
HEALTH = {"code": "MOH", "name": "Ministry of Health", "category": "associated"}
TOURISM = {"code": "TOURISM", "name": "Ministry of Tourism", "category": "other"}
AMINA = {
    "name": "Amina El Idrissi",
    "email": "amina@customs.example",
    "institution": "MOF_CUSTOMS",
    "roles": ["focal_point"],
}


def _toml_value(value: object) -> str:
    """A TOML literal for a string, boolean or list (JSON escapes are valid TOML, but DEL)."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_text(
    *institutions: Mapping[str, object], people: Sequence[Mapping[str, object]] = ()
) -> str:
    """A TOML roster with the given [[institution]] and [[person]] tables (None drops a key)."""
    lines: list[str] = []
    for kind, tables in (("institution", institutions), ("person", people)):
        for table in tables:
            lines.append(f"[[{kind}]]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in table.items() if v is not None]
    return "\n".join(lines) + "\n"


def person(**changes: object) -> dict[str, object]:
    """Amina (a focal point of MOF_CUSTOMS) with some keys changed."""
    return {**AMINA, **changes}


def problems_of(text: str, fmt: str = "toml", **known: object) -> list[Problem]:
    """The problems RosterError reports for `text` (fails if the text parses)."""
    with pytest.raises(RosterError) as caught:
        parse_roster_text(text, fmt=fmt, filename=f"roster.{fmt}", **known)  # type: ignore[arg-type]
    return list(caught.value.problems)


def only_problem(text: str, fmt: str = "toml", **known: object) -> Problem:
    """The single problem reported for `text`."""
    found = problems_of(text, fmt, **known)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


# --- the default roster ---------------------------------------------------------------------


def test_default_roster_has_the_six_permanent_members_and_the_associated_ministry_of_health() -> (
    None
):
    roster = default_roster()
    categories = [i.category for i in roster.institutions]
    assert categories.count("permanent") == 6
    assert categories.count("associated") == 1
    assert roster.people == ()
    assert [i.code for i in roster.institutions] == [
        "CHAIR",
        "MFA_VISA",
        "MOI_BORDER_GUARD",
        "MOF_CUSTOMS",
        "MOA_VETERINARY",
        "MOA_PHYTOSANITARY",
        "MOH",
    ]
    by_code = {i.code: i for i in roster.institutions}
    assert by_code["MOF_CUSTOMS"].name == f"Ministry of Finance {DASH} Customs Directorate"
    assert by_code["MOF_CUSTOMS"].short_name == "Customs Directorate"
    assert by_code["CHAIR"].short_name == "Chair"
    assert by_code["MOH"].category == "associated"
    assert all(i.involved and i.weekend == (5, 6) for i in roster.institutions)


def test_default_roster_file_documents_how_to_add_other_institutions() -> None:
    text = (Path(__file__).parents[1] / "ibmflow" / "defaults" / "roster.toml").read_text("utf-8")
    assert 'category = "other"' in text
    for name in ("Tourism", "Justice", "Chamber of Commerce", "Regional Integration"):
        assert name in text


# --- valid fixtures -------------------------------------------------------------------------

EXPECTED_CUSTOMS = RosterInstitution(
    code="MOF_CUSTOMS",
    name=f"Ministry of Finance {DASH} Customs Directorate",
    short_name="Customs Directorate",
    category="permanent",
    involved=True,
    weekend=(5, 6),
)
EXPECTED_VISA = RosterInstitution(
    code="MFA_VISA",
    name=f"Ministry of Foreign Affairs {DASH} Visa regimes",
    short_name=f"Ministry of Foreign Affairs {DASH} Visa regimes",
    category="permanent",
    involved=True,
    weekend=(4, 5),
    language="fr",
)
EXPECTED_TOURISM = RosterInstitution(
    code="TOURISM",
    name="Ministry of Tourism",
    short_name="Ministry of Tourism",
    category="other",
    involved=False,
    weekend=(5, 6),
)
EXPECTED_AMINA = RosterPerson(
    "Amina El Idrissi", "amina@customs.example", "MOF_CUSTOMS", ("focal_point", "iawg_member")
)
EXPECTED_YOUSSEF = RosterPerson(
    "Youssef Benali",
    "youssef@customs.example",
    "MOF_CUSTOMS",
    ("focal_point",),
    deputy_for="amina@customs.example",
)
EXPECTED_LEILA = RosterPerson(
    "Leila Haddad", "leila@health.example", "MOH", ("focal_point",), language="fr"
)


def test_valid_toml_fixture_parses_to_the_expected_records() -> None:
    """Defaults apply (short name, Sat-Sun weekend, involved by category); emails lower-cased;
    a chair needs no institution; MOH is referred to without being redeclared."""
    roster = parse_roster(ROSTERS / "valid.toml", known_institutions={"MOH": "associated"})
    assert roster == Roster(
        institutions=(EXPECTED_CUSTOMS, EXPECTED_VISA, EXPECTED_TOURISM),
        people=(
            EXPECTED_AMINA,
            EXPECTED_YOUSSEF,
            EXPECTED_LEILA,
            RosterPerson("Omar Said", "omar@coordination.example", None, ("chair", "manager")),
        ),
    )


def test_valid_csv_fixture_parses_to_the_expected_records() -> None:
    """BOM and blank line tolerated; institution attributes given once and left empty on later
    rows; an institution-only row; a code-only row refers to the known MOH (no record for it)."""
    roster = parse_roster(ROSTERS / "valid.csv", known_institutions={"MOH": "associated"})
    assert roster == Roster(
        institutions=(EXPECTED_CUSTOMS, EXPECTED_VISA, EXPECTED_TOURISM),
        people=(
            EXPECTED_AMINA,
            EXPECTED_YOUSSEF,
            RosterPerson("Karim Mansour", "karim@visa.example", "MFA_VISA", ("iawg_member",)),
            EXPECTED_LEILA,
        ),
    )


def test_records_are_frozen() -> None:
    roster = default_roster()
    with pytest.raises(dataclasses.FrozenInstanceError):
        roster.institutions[0].code = "X"  # type: ignore[misc]


def test_the_valid_fixtures_fail_when_the_referenced_institution_is_not_known() -> None:
    found = problems_of((ROSTERS / "valid.toml").read_text("utf-8"))
    assert [p.where for p in found] == ["person[3].institution"]
    assert "MOH is neither declared in the roster nor known" in found[0].what


# --- malformed fixtures: every problem at once ------------------------------------------------


def test_malformed_toml_fixture_reports_every_problem_in_file_order() -> None:
    with pytest.raises(RosterError) as caught:
        parse_roster(ROSTERS / "malformed.toml")
    found = caught.value.problems
    assert [p.where for p in found] == [
        "institution[1].colour",
        "institution[1].code",
        "institution[1].category",
        "institution[2].name",
        "institution[2].weekend",
        "institution[3].weekend",
        "institution[3].code",
        "person[1].email",
        "person[1].roles",
        "person[2].name",
        "person[2].roles",
        "person[2].institution",
        "person[3].email",
        "person[3].institution",
        "person[3].deputy_for",
        "person[4].roles",
        "person[4].deputy_for",
    ]
    text = str(caught.value)
    assert text.startswith("17 problems in the roster; nothing was imported:")
    for phrase in (
        "unknown key; the keys are code, name, short_name, category, involved, weekend",
        'code "mof customs" must be 2-32 capital letters',
        'category "minister" is not one of permanent, associated, other',
        "institution[2].name: is empty",
        "lists all seven days",
        'weekday "caturday" is not one of mon, tue, wed, thu, fri, sat, sun',
        "MOH is already declared in institution[2]",
        'person[1].email: "amina@" is not an email address; write it as name@domain',
        "only permanent institutions have one and MOH is associated",
        r'"Bob\x0aSmith" contains a control character',
        'role "boss" is not one of focal_point, iawg_member, chair, manager, coordinator',
        "NOWHERE is neither declared in the roster nor known",
        "bob@x.example is already used by person[2]",
        "a focal_point needs an institution",
        "ghost@x.example is not a focal point",
        "person[4].roles: is empty",
        "person[4].deputy_for: is their own email",
    ):
        assert phrase in text
    assert all(p.file == str(ROSTERS / "malformed.toml") for p in found)


def test_malformed_csv_fixture_reports_every_problem_by_row_and_column() -> None:
    with pytest.raises(RosterError) as caught:
        parse_roster(ROSTERS / "malformed.csv", known_institutions={"MOH": "associated"})
    found = caught.value.problems
    assert [p.where for p in found] == [
        "row 3, category",
        "row 3, roles",
        "row 4, involved",
        "row 4, email",
        "row 5, institution_code",
        "row 6, person_name",
        "row 7, institution_name",
        "row 7, category",
        "row 7, roles",
        "row 7, deputy_for",
        "row 8, weekend",
        "row 8, email",
        "row 9",
    ]
    text = str(caught.value)
    for phrase in (
        '"associated" disagrees with "permanent" on row 2',
        "MOF_CUSTOMS already has one (row 2)",
        '"maybe" is not a yes/no value',
        '"carla@" is not an email address',
        "row 5, institution_code: is missing",
        "is empty but email given",
        "row 7, institution_name: is missing",
        'role "ceo" is not one of',
        "nobody@x.example is not a focal point",
        'weekday "fri" is listed twice',
        "amina@customs.example is already used by row 2",
        "has 11 cells for 10 columns",
    ):
        assert phrase in text


def test_problem_renders_file_where_and_what() -> None:
    found = only_problem(toml_text(CUSTOMS, people=(AMINA, person(email="amina@"))))
    assert str(found) == (
        'roster.toml: person[2].email: "amina@" is not an email address; write it as name@domain'
    )


# --- one rule at a time ---------------------------------------------------------------------

RULES = [
    pytest.param(
        toml_text(CUSTOMS, {**CUSTOMS, "name": "Again"}),
        "institution[2].code",
        "MOF_CUSTOMS is already declared in institution[1]",
        id="duplicate-institution-code",
    ),
    pytest.param(
        toml_text(CUSTOMS, people=(AMINA, person(name="Other", email="AMINA@Customs.Example"))),
        "person[2].email",
        "amina@customs.example is already used by person[1]",
        id="duplicate-email-ignoring-case",
    ),
    pytest.param(
        toml_text({**CUSTOMS, "category": "minister"}),
        "institution[1].category",
        'category "minister" is not one of permanent, associated, other',
        id="unknown-category",
    ),
    pytest.param(
        toml_text(CUSTOMS, people=(person(roles=["focal_point", "boss"]),)),
        "person[1].roles",
        'role "boss" is not one of focal_point, iawg_member, chair, manager, coordinator',
        id="unknown-role",
    ),
    pytest.param(
        toml_text({**CUSTOMS, "weekend": ["friday"]}),
        "institution[1].weekend",
        'weekday "friday" is not one of mon, tue, wed, thu, fri, sat, sun',
        id="unknown-weekday",
    ),
    pytest.param(
        toml_text({**CUSTOMS, "weekend": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}),
        "institution[1].weekend",
        "lists all seven days",
        id="weekend-of-seven-days",
    ),
    pytest.param(
        toml_text({**CUSTOMS, "weekend": []}),
        "institution[1].weekend",
        "is empty; list at least one weekday",
        id="weekend-given-empty",
    ),
    pytest.param(
        toml_text({**CUSTOMS, "weekend": ["sat", "sat"]}),
        "institution[1].weekend",
        'weekday "sat" is listed twice',
        id="weekday-twice",
    ),
    pytest.param(
        toml_text(CUSTOMS, people=(person(institution="MOJ"),)),
        "person[1].institution",
        "MOJ is neither declared in the roster nor known",
        id="institution-not-declared-nor-known",
    ),
    pytest.param(
        toml_text(CUSTOMS, HEALTH, people=(person(institution="MOH", roles=["iawg_member"]),)),
        "person[1].roles",
        "iawg_member: only permanent institutions have one and MOH is associated",
        id="iawg-member-of-associated-institution",
    ),
    pytest.param(
        toml_text(CUSTOMS, TOURISM, people=(person(institution="TOURISM", roles=["iawg_member"]),)),
        "person[1].roles",
        "TOURISM is other",
        id="iawg-member-of-other-institution",
    ),
    pytest.param(
        toml_text(
            CUSTOMS,
            people=(
                person(roles=["iawg_member"]),
                person(name="Second", email="second@customs.example", roles=["iawg_member"]),
            ),
        ),
        "person[2].roles",
        "MOF_CUSTOMS already has one (person[1]); keep one per institution",
        id="second-iawg-member-of-an-institution",
    ),
    pytest.param(
        toml_text(CUSTOMS, people=(person(institution=None),)),
        "person[1].institution",
        "a focal_point needs an institution",
        id="focal-point-without-institution",
    ),
    pytest.param(
        toml_text(CUSTOMS, people=(person(institution=None, roles=["chair", "iawg_member"]),)),
        "person[1].institution",
        "a iawg_member needs an institution",
        id="iawg-member-without-institution",
    ),
    pytest.param(
        toml_text(
            CUSTOMS,
            people=(
                person(roles=["manager"]),
                person(
                    name="Deputy", email="d@customs.example", deputy_for="amina@customs.example"
                ),
            ),
        ),
        "person[2].deputy_for",
        "amina@customs.example is not a focal point of this roster nor a known person",
        id="deputy-for-someone-not-a-focal-point",
    ),
    pytest.param(
        toml_text(CUSTOMS, people=(person(deputy_for="nobody@x.example"),)),
        "person[1].deputy_for",
        "nobody@x.example is not a focal point",
        id="deputy-for-unknown-email",
    ),
    pytest.param(
        toml_text(CUSTOMS, people=(person(deputy_for="Amina@customs.example"),)),
        "person[1].deputy_for",
        "is their own email",
        id="deputy-for-themself",
    ),
    pytest.param(
        toml_text(CUSTOMS, people=(person(deputy_for="amina"),)),
        "person[1].deputy_for",
        '"amina" is not an email address',
        id="deputy-for-not-an-email",
    ),
    pytest.param(
        toml_text({**CUSTOMS, "name": "  "}),
        "institution[1].name",
        "is empty; give a value",
        id="blank-institution-name",
    ),
    pytest.param(
        toml_text(CUSTOMS, people=(person(name=" "),)),
        "person[1].name",
        "is empty; give a value",
        id="blank-person-name",
    ),
    pytest.param(
        toml_text({**CUSTOMS, "short_name": ""}),
        "institution[1].short_name",
        "is empty; give a value",
        id="empty-short-name-given",
    ),
    pytest.param(
        toml_text(CUSTOMS, people=(person(name=None),)),
        "person[1].name",
        "is missing; give it",
        id="missing-person-name",
    ),
    pytest.param(
        toml_text({**CUSTOMS, "category": None}),
        "institution[1].category",
        "is missing; give it",
        id="missing-category",
    ),
    pytest.param(
        toml_text({**CUSTOMS, "code": "mof_customs"}),
        "institution[1].code",
        'code "mof_customs" must be 2-32 capital letters, digits or _',
        id="code-not-in-capitals",
    ),
    pytest.param(
        toml_text({**CUSTOMS, "code": "M"}),
        "institution[1].code",
        "must be 2-32 capital letters",
        id="code-too-short",
    ),
    pytest.param(
        toml_text({**CUSTOMS, "code": "A" * 33}),
        "institution[1].code",
        "must be 2-32 capital letters",
        id="code-too-long",
    ),
    pytest.param(
        toml_text({**CUSTOMS, "involved": "maybe"}),
        "institution[1].involved",
        '"maybe" is not a yes/no value',
        id="involved-not-a-boolean",
    ),
    pytest.param(
        toml_text({**CUSTOMS, "name": 5}),
        "institution[1].name",
        "5 is not text; write it in quotes",
        id="name-not-text",
    ),
    pytest.param(
        toml_text(CUSTOMS, people=(person(roles="focal_point"),)),
        "person[1].roles",
        'is not a list of words; write it like ["a", "b"]',
        id="roles-not-a-list",
    ),
    pytest.param(
        toml_text(CUSTOMS, people=(person(roles=[]),)),
        "person[1].roles",
        "is empty; list at least one role",
        id="roles-empty",
    ),
    pytest.param(
        toml_text(CUSTOMS, people=(person(roles=None),)),
        "person[1].roles",
        "is missing; give at least one of focal_point, iawg_member, chair, manager",
        id="roles-missing",
    ),
    pytest.param(
        toml_text(CUSTOMS, people=(person(roles=["focal_point", "Focal_Point"]),)),
        "person[1].roles",
        'role "focal_point" is listed twice',
        id="role-twice",
    ),
    pytest.param(
        toml_text(CUSTOMS, people=(person(phone="123"),)),
        "person[1].phone",
        "unknown key; the keys are name, email, institution, roles, deputy_for",
        id="unknown-person-key",
    ),
    pytest.param(
        toml_text(CUSTOMS) + "[settings]\nx = 1\n",
        "settings",
        "unknown section; a roster has only [[institution]] and [[person]]",
        id="unknown-section",
    ),
    pytest.param(
        "[institution]\ncode = 'MOF_CUSTOMS'\n",
        "institution",
        "write each institution as a [[institution]] table (two brackets)",
        id="single-bracket-table",
    ),
    pytest.param(
        "# nothing yet\n",
        "file",
        "declares no institution and no person",
        id="empty-roster",
    ),
]


@pytest.mark.parametrize(("text", "where", "phrase"), RULES)
def test_each_rule_is_reported_alone_with_its_location(text: str, where: str, phrase: str) -> None:
    found = only_problem(text)
    assert found.where == where
    assert phrase in found.what


BAD_EMAILS = [
    "amina@",
    "@customs.example",
    "amina",
    "amina@customs",
    "amina smith@customs.example",
    "amina,b@customs.example",
    "<amina@customs.example>",
    "Amina <amina@customs.example>",
    "amina@@customs.example",
    "amina@customs example",
]


@pytest.mark.parametrize("email", BAD_EMAILS)
def test_an_email_must_be_a_bare_address(email: str) -> None:
    found = only_problem(toml_text(CUSTOMS, people=(person(email=email),)))
    assert found.where == "person[1].email"
    assert "is not an email address; write it as name@domain" in found.what


@pytest.mark.parametrize("char", ["\r", "\n", "\t", "\x00", "\x1f", "\x7f"])
@pytest.mark.parametrize(
    ("kind", "key"),
    [
        ("institution", "name"),
        ("institution", "short_name"),
        ("person", "name"),
        ("person", "email"),
        ("person", "deputy_for"),
    ],
)
def test_control_characters_are_refused_in_every_text_field(kind: str, key: str, char: str) -> None:
    """Even at the end of a value, where stripping would hide them (they reach mail headers)."""
    institution, someone = dict(CUSTOMS), person()
    table = institution if kind == "institution" else someone
    table[key] = f"{table.get(key, 'amina@customs.example')}{char}"
    found = only_problem(toml_text(institution, people=(someone,)))
    assert found.where == f"{kind}[1].{key}"
    assert "contains a control character" in found.what
    assert "\\x" in found.what and char not in found.what


def test_control_characters_in_roles_and_weekend_are_refused() -> None:
    text = toml_text({**CUSTOMS, "weekend": ["sat\n"]}, people=(person(roles=["focal_point\t"]),))
    assert {p.where for p in problems_of(text)} == {"institution[1].weekend", "person[1].roles"}


def test_every_problem_of_one_record_is_reported_not_only_the_first() -> None:
    text = toml_text(
        {"code": "x", "name": "", "category": "x", "weekend": ["x"], "involved": 2},
        people=({"name": "\n", "email": "x", "institution": 3, "roles": ["x"], "deputy_for": "x"},),
    )
    assert {p.where for p in problems_of(text)} == {
        "institution[1].code",
        "institution[1].name",
        "institution[1].category",
        "institution[1].weekend",
        "institution[1].involved",
        "person[1].name",
        "person[1].email",
        "person[1].institution",
        "person[1].roles",
        "person[1].deputy_for",
    }


# --- defaults and what the rules allow -------------------------------------------------------


def test_defaults_short_name_weekend_and_involved_by_category() -> None:
    roster = parse_roster_text(toml_text(CUSTOMS, HEALTH, TOURISM), fmt="toml", filename="r.toml")
    assert [(i.short_name, i.weekend, i.involved) for i in roster.institutions] == [
        ("Customs Directorate", (5, 6), True),
        ("Ministry of Health", (5, 6), True),
        ("Ministry of Tourism", (5, 6), False),
    ]


@pytest.mark.parametrize(
    ("weekend", "numbers"),
    [(["fri", "sat"], (4, 5)), (["sun", "sat"], (5, 6)), (["FRI"], (4,)), (["thu", "fri"], (3, 4))],
)
def test_weekend_days_become_sorted_weekday_numbers(
    weekend: list[str], numbers: tuple[int]
) -> None:
    text = toml_text({**CUSTOMS, "weekend": weekend})
    roster = parse_roster_text(text, fmt="toml", filename="r.toml")
    assert roster.institutions[0].weekend == numbers


def test_involved_given_explicitly_overrides_the_category_default() -> None:
    text = toml_text({**TOURISM, "involved": True}, {**CUSTOMS, "involved": False})
    roster = parse_roster_text(text, fmt="toml", filename="r.toml")
    assert [i.involved for i in roster.institutions] == [True, False]


def test_names_are_stripped_and_emails_lower_cased() -> None:
    text = toml_text(
        {**CUSTOMS, "name": "  Customs  "},
        people=(person(name=" Amina ", email=" Amina@CUSTOMS.example "),),
    )
    roster = parse_roster_text(text, fmt="toml", filename="r.toml")
    assert roster.institutions[0].name == "Customs"
    assert (roster.people[0].name, roster.people[0].email) == ("Amina", "amina@customs.example")


def test_chair_and_manager_need_no_institution() -> None:
    text = toml_text(CUSTOMS, people=(person(institution=None, roles=["chair", "manager"]),))
    roster = parse_roster_text(text, fmt="toml", filename="r.toml")
    assert roster.people[0].institution is None


def test_people_may_refer_to_known_institutions_and_deputise_for_known_people() -> None:
    text = toml_text(
        people=(
            person(
                institution="MOI_BORDER_GUARD", roles=["iawg_member"], deputy_for="X@bg.example"
            ),
        )
    )
    roster = parse_roster_text(
        text,
        fmt="toml",
        filename="r.toml",
        known_institutions={"MOI_BORDER_GUARD": "permanent"},
        known_emails=["x@bg.example"],
    )
    assert roster.institutions == ()
    assert roster.people[0].deputy_for == "x@bg.example"


def test_iawg_rule_uses_the_category_of_a_known_institution() -> None:
    text = toml_text(people=(person(institution="MOH", roles=["iawg_member"]),))
    found = only_problem(text, known_institutions={"MOH": "associated"})
    assert (found.where, "MOH is associated" in found.what) == ("person[1].roles", True)


def test_one_iawg_member_per_institution_but_each_institution_may_have_one() -> None:
    visa = {**CUSTOMS, "code": "MFA_VISA", "name": "Visa regimes"}
    text = toml_text(
        CUSTOMS,
        visa,
        people=(
            person(roles=["focal_point", "iawg_member"]),
            person(name="K", email="k@visa.example", institution="MFA_VISA", roles=["iawg_member"]),
        ),
    )
    roster = parse_roster_text(text, fmt="toml", filename="r.toml")
    assert len(roster.people) == 2


def test_a_deputy_may_deputise_for_a_focal_point_declared_later_in_the_file() -> None:
    text = toml_text(
        CUSTOMS,
        people=(
            person(name="D", email="d@customs.example", deputy_for="amina@customs.example"),
            AMINA,
        ),
    )
    roster = parse_roster_text(text, fmt="toml", filename="r.toml")
    assert roster.people[0].deputy_for == "amina@customs.example"


# --- files: format, encoding, syntax --------------------------------------------------------


def test_toml_syntax_error_gives_the_line() -> None:
    text = '[[institution]]\ncode = "MOF_CUSTOMS"\nname = Customs\ncategory = "permanent"\n'
    found = only_problem(text)
    assert found.where == "line 3"
    assert "is not valid TOML" in found.what


def test_non_utf8_file_is_a_problem_with_its_line_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(HEADER.encode() + b"\nMOH,Minist\xe8re de la Sant\xe9,,associated,,,,,,\n")
    with pytest.raises(RosterError) as caught:
        parse_roster(path)
    [found] = caught.value.problems
    assert (found.file, found.where) == (str(path), "line 2")
    assert "byte 0xe8 is not UTF-8; save the file as UTF-8" in found.what


@pytest.mark.parametrize("name", ["roster.xlsx", "roster.json", "roster"])
def test_unknown_suffix_names_the_accepted_ones(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("x", encoding="utf-8")
    with pytest.raises(RosterError) as caught:
        parse_roster(path)
    [found] = caught.value.problems
    assert found.where == "file name"
    assert ".toml or .csv" in found.what


def test_missing_file_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(RosterError) as caught:
        parse_roster(tmp_path / "absent.toml")
    assert "cannot be read" in caught.value.problems[0].what


def test_suffix_is_case_insensitive(tmp_path: Path) -> None:
    path = tmp_path / "ROSTER.TOML"
    path.write_text(toml_text(CUSTOMS), encoding="utf-8")
    assert parse_roster(path).institutions[0].code == "MOF_CUSTOMS"


# --- CSV specifics --------------------------------------------------------------------------


def csv_text(*rows: str, header: str = HEADER) -> str:
    """A CSV roster: the header, then the rows."""
    return "\n".join((header, *rows)) + "\n"


CUSTOMS_ROW = "MOF_CUSTOMS,Customs Directorate,,permanent,,,"
AMINA_CELLS = "Amina,amina@customs.example,focal_point,"


def parse_csv(text: str, **known: object) -> Roster:
    return parse_roster_text(text, fmt="csv", filename="people.csv", **known)  # type: ignore[arg-type]


def test_csv_header_missing_a_required_column_is_a_problem() -> None:
    header = HEADER.replace(",email", "")
    found = only_problem(csv_text(header=header), "csv")
    assert found.where == "row 1"
    assert "the header lacks email" in found.what


def test_csv_header_may_omit_optional_columns_and_ignores_case_and_spaces() -> None:
    header = " Institution_Code , institution_name,category,person_name,email,roles"
    roster = parse_csv(
        csv_text("MOF_CUSTOMS,Customs,permanent,Amina,amina@customs.example,chair", header=header)
    )
    assert roster.people[0].roles == ("chair",)


def test_csv_unknown_or_repeated_column_is_a_problem() -> None:
    found = problems_of(csv_text(header=HEADER + ",e-mail,roles"), "csv")
    assert [p.where for p in found] == ["row 1", "row 1"]
    assert 'column "e-mail" is unknown or repeated' in found[0].what
    assert 'column "roles" is unknown or repeated' in found[1].what


@pytest.mark.parametrize("text", ["", "\ufeff", "\n\n", " , ,\n"])
def test_csv_completely_empty_file_is_a_problem(text: str) -> None:
    found = only_problem(text, "csv")
    assert (found.where, "the file is empty" in found.what) == ("row 1", True)


def test_csv_disagreeing_institution_attributes_name_both_rows() -> None:
    text = csv_text(
        f"{CUSTOMS_ROW}{AMINA_CELLS}",
        "MOF_CUSTOMS,Customs Directorate,,permanent,,fri;sat,,,,",
        "MOF_CUSTOMS,Customs Directorate (HQ),,permanent,,,,,,",
    )
    found = problems_of(text, "csv")
    assert [p.where for p in found] == ["row 4, institution_name"]
    assert '"Customs Directorate (HQ)" disagrees with "Customs Directorate" on row 2' in str(
        found[0]
    )


def test_csv_repeated_attributes_agree_despite_case_spaces_and_yes_true() -> None:
    text = csv_text(
        "MOF_CUSTOMS,Customs,,permanent,yes,fri;sat,,,,",
        "MOF_CUSTOMS,Customs,,Permanent,true,fri; sat,,,,",
    )
    [institution] = parse_csv(text).institutions
    assert (institution.involved, institution.weekend) == (True, (4, 5))


def test_csv_locates_problems_by_file_line_even_after_blank_and_multiline_rows() -> None:
    """Row N is the line where the record starts: a quoted cell spanning lines 2-3, blank line 4."""
    text = csv_text(
        f'{CUSTOMS_ROW}"Amina\nEl Idrissi",amina@customs.example,focal_point,',
        "",
        f"{CUSTOMS_ROW}Bob,bob@,focal_point,",
    )
    assert [p.where for p in problems_of(text, "csv")] == ["row 2, person_name", "row 5, email"]


CSV_ROW_RULES = {
    "institution-only-row-without-code": (
        ",Customs,,permanent,,,,,,",
        "row 2, institution_code",
        "every row belongs",
    ),
    "person-row-without-code": (f",,,,,,{AMINA_CELLS}", "row 2, institution_code", "is missing"),
    "unknown-code-without-name": ("MOJ,,,,,,,,,", "row 2, institution_name", "is missing"),
    "person-cells-without-name": (
        f"{CUSTOMS_ROW},amina@customs.example,focal_point,",
        "row 2, person_name",
        "but email, roles given",
    ),
    "involved-not-yes-no": (
        "MOF_CUSTOMS,Customs,,permanent,maybe,,,,,",
        "row 2, involved",
        '"maybe" is not a yes/no',
    ),
    "weekend-only-separators": (
        "MOF_CUSTOMS,Customs,,permanent,,;,,,,",
        "row 2, weekend",
        "is empty",
    ),
    "roles-only-separators": (
        f"{CUSTOMS_ROW}Amina,amina@customs.example,;,",
        "row 2, roles",
        "is empty",
    ),
    "roles-empty": (f"{CUSTOMS_ROW}Amina,amina@customs.example,,", "row 2, roles", "is missing"),
    "too-many-cells": (
        f"{CUSTOMS_ROW}{AMINA_CELLS},fr,en,extra",
        "row 2",
        "has 13 cells for 12 columns",
    ),
    "line-break-in-quoted-name": (
        f'{CUSTOMS_ROW}"Amina\nEl Idrissi",a@x.example,chair,',
        "row 2, person_name",
        "control character",
    ),
}


@pytest.mark.parametrize(("row", "where", "phrase"), CSV_ROW_RULES.values(), ids=CSV_ROW_RULES)
def test_csv_row_rules(row: str, where: str, phrase: str) -> None:
    """Each CSV-only mistake is located by its row and column."""
    found = problems_of(csv_text(row), "csv")
    assert where in [p.where for p in found]
    assert any(phrase in p.what for p in found if p.where == where), [str(p) for p in found]


def test_csv_code_only_rows_for_an_unknown_institution_need_name_and_category_once() -> None:
    text = csv_text("MOJ,,,,,,Amina,amina@justice.example,focal_point,", "MOJ,,,,,,,,,")
    found = problems_of(text, "csv")
    assert [p.where for p in found] == ["row 2, institution_name", "row 2, category"]


def test_csv_rows_for_a_known_institution_may_update_it_and_keep_its_category() -> None:
    text = csv_text("MOH,Ministry of Public Health,,,,fri;sat,,,,")
    [moh] = parse_csv(text, known_institutions={"MOH": "associated"}).institutions
    assert (moh.name, moh.category, moh.weekend) == (
        "Ministry of Public Health",
        "associated",
        (4, 5),
    )


def test_csv_short_rows_are_padded_with_empty_cells() -> None:
    roster = parse_csv(csv_text("MOF_CUSTOMS,Customs,,other"))
    assert roster.institutions[0].category == "other"


def test_csv_cells_with_commas_may_be_quoted() -> None:
    text = csv_text('MOF_CUSTOMS,"Ministry of Finance, Customs",,permanent,,,,,,')
    assert parse_csv(text).institutions[0].name == "Ministry of Finance, Customs"


def test_csv_rules_shared_with_toml_are_located_by_row() -> None:
    text = csv_text(
        f"{CUSTOMS_ROW}{AMINA_CELLS}",
        f"{CUSTOMS_ROW}Other,AMINA@customs.example,focal_point;iawg_member,",
        f"{CUSTOMS_ROW}Third,third@customs.example,iawg_member;boss,third@customs.example",
    )
    found = problems_of(text, "csv")
    assert [p.where for p in found] == [
        "row 3, email",
        "row 4, roles",
        "row 4, roles",
        "row 4, deputy_for",
    ]
    assert "already used by row 2" in found[0].what
    assert 'role "boss"' in found[1].what and "already has one (row 3)" in found[2].what
