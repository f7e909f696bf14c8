"""The domain's sentences in the reader's language: the guards' blockers (whole sentences, plural
forms), refusals, request-kind and document-kind labels, remedies, the CSV and calendar exports, and
the errors services raise, in English, in French and in the pseudo-locale (every word marked)."""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path

import deadline_scenario as sc
import httpx
import icalendar
import pytest
from factories import (
    BORDER_GUARD,
    CUSTOMS,
    HEALTH,
    INSTITUTIONS,
    PERMANENT_CODES,
    VETERINARY,
    VISA,
    decision,
    facts,
    full_facts,
    person,
)
from i18n_check import unmarked_english
from test_guards import ENGINE, REMOVALS, STEP_GUARDS, _key, check, without_focal_points
from webconsole import EMAILS, MINE, Site

from ibmflow import i18n
from ibmflow.access import COORDINATOR
from ibmflow.decisions import ballot_for
from ibmflow.errors import InvalidCommand, Problem, ProblemsError, RosterError, TransitionRefused
from ibmflow.exports import CSV_HEADER, csv_header, report_csv, report_ical
from ibmflow.facts import DECISION_SUBJECTS, DOCUMENT_KINDS, Chapter, Facts, TaskForce
from ibmflow.guards import REGISTRY
from ibmflow.remedies import remedies
from ibmflow.reports import DeadlineReport
from ibmflow.requestkinds import KINDS, LABELS, check_answer, field_problems, label
from ibmflow.services import accounts
from ibmflow.services.context import Context
from ibmflow.services.reports import deadline_report
from ibmflow.testing import FixedClock

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
NBSP = "\u00a0"


def in_(lang: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    with i18n.using(lang):
        return fn(*args, **kwargs)


def _data(f: Facts) -> list[str]:
    """What is data, not sentences, in a blocker: names of institutions, people, chapters."""
    people = [p.name for ps in f.focal_points.values() for p in ps]
    people += [p.name for p in f.iawg_members.values()]
    return [
        *(i.short_name for i in f.institutions),
        *people,
        *(c.title for c in f.chapters),
        *(t.name for t in f.task_forces),
        "#",
    ]


# --- plural forms: 0, 1, 2 and 5 ------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "english", "french"),
    [
        (0, "has 0 task forces", f"compte 0 groupe de travail thématique{NBSP};"),
        (1, "has 1 task force;", f"compte 1 groupe de travail thématique{NBSP};"),
        (2, "has 2 task forces", f"compte 2 groupes de travail thématiques{NBSP};"),
        (5, "has 5 task forces", f"compte 5 groupes de travail thématiques{NBSP};"),
    ],
)
def test_the_task_force_count_takes_its_plural_form(n: int, english: str, french: str) -> None:
    f = full_facts(task_forces=tuple(TaskForce(i, f"Task force {i}") for i in range(n)))
    (en,) = in_("en", check, "task_forces_named", f, minimum=6)
    (fr,) = in_("fr", check, "task_forces_named", f, minimum=6)
    assert en.startswith(f"The implementing body {english}")
    assert en.endswith("; name at least 6.") and "(s)" not in en
    assert fr.startswith(f"L’organe de mise en œuvre {french}")
    assert fr.endswith("constituez-en au moins 6.")


@pytest.mark.parametrize(
    ("missing", "english", "french"),
    [
        ((CUSTOMS,), "1 of 6 permanent institutions has no focal point", "1 institution permanente sur 6 n’a pas de point focal"),
        ((CUSTOMS, VETERINARY), "2 of 6 permanent institutions have no focal point", "2 institutions permanentes sur 6 n’ont pas de point focal"),
        ((CUSTOMS, VETERINARY, VISA, BORDER_GUARD, PERMANENT_CODES[0]), "5 of 6 permanent institutions have no focal point", "5 institutions permanentes sur 6 n’ont pas de point focal"),
    ],
)  # fmt: skip
def test_missing_focal_points_are_counted_in_whole_sentences(
    missing: tuple[str, ...], english: str, french: str
) -> None:
    f = without_focal_points(*missing)(full_facts())
    (en,) = in_("en", check, "focal_points_named", f)
    (fr,) = in_("fr", check, "focal_points_named", f)
    assert en.startswith(f"{english}: ") and en.endswith(".")
    assert fr.startswith(f"{french}{NBSP}: ") and fr.endswith(".")
    assert "Customs Directorate" in en and "Customs Directorate" in fr  # names are data


def test_no_missing_focal_point_is_no_sentence_in_any_language() -> None:
    assert in_("en", check, "focal_points_named", full_facts()) == []
    assert in_("fr", check, "focal_points_named", full_facts()) == []


@pytest.mark.parametrize("scope", ["involved", "all"])
def test_the_scope_agrees_with_institutions_in_french(scope: str) -> None:
    f = without_focal_points(HEALTH)(full_facts())
    (fr,) = in_("fr", check, "focal_points_named", f, scope=scope)
    expected = "1 institution concernée sur 7" if scope == "involved" else "1 institution sur 7"
    assert fr.startswith(f"{expected} n’a pas de point focal{NBSP}: Ministry of Health")


def test_an_unanswered_request_names_the_kind_in_french() -> None:
    f = dataclasses.replace(full_facts(), requests=())
    blockers = in_("fr", check, "requests_answered", f, kinds=["self_assessment"])
    assert blockers == [
        f"7 institutions concernées sur 7 n’ont pas répondu à la demande «{NBSP}auto-évaluation"
        f"{NBSP}»{NBSP}: {', '.join(i.short_name for i in INSTITUTIONS if i.involved)}."
    ]


def test_a_decision_awaiting_votes_and_a_missing_document_in_french() -> None:
    f = facts(decisions=(decision(7, "terms_of_reference"),))
    (awaits,) = in_("fr", check, "decision_adopted", f, subject="terms_of_reference")
    assert awaits.startswith(
        f"La décision n°{NBSP}7 du GTI sur les termes de référence attend le vote de "
        f"6 institutions permanentes sur 6{NBSP}: "
    )
    (doc,) = in_("fr", check, "document_attached", facts(), kind="terms_of_reference")
    assert doc == f"Aucun document «{NBSP}termes de référence{NBSP}» n’est encore joint."
    assert in_("en", check, "document_attached", facts(), kind="terms_of_reference") == [
        "No Terms of Reference is attached yet."
    ]


# --- refusals -------------------------------------------------------------------------------


def test_a_refused_transition_speaks_french() -> None:
    step = "coordinating_bodies"
    with i18n.using("fr"), pytest.raises(TransitionRefused) as exc:
        ENGINE.fire(step, facts(), "complete")
    with i18n.using("fr"):
        title = ENGINE.definition.state(step).title  # the workflow's French title
    assert exc.value.message == (
        f"l’étape «{NBSP}{title}{NBSP}» ne peut pas encore être achevée{NBSP}: "
        "4 conditions non remplies."
    )
    assert exc.value.blockers[1] == (
        f"L’organe de mise en œuvre compte 0 groupe de travail thématique{NBSP}; "
        "constituez-en au moins 1."
    )
    with pytest.raises(TransitionRefused) as english:
        ENGINE.fire(step, facts(), "complete")  # outside `using`: English, as the CLI says it
    assert english.value.message.endswith("cannot be completed yet: 4 conditions unmet.")


def test_an_invalid_command_speaks_the_readers_language() -> None:
    f = full_facts()
    health_person = person(99, "Someone", HEALTH)

    def vote() -> None:
        ballot_for(f, decision(3, "objectives"), HEALTH, health_person, (), sc.AT.date())

    with i18n.using("fr"), pytest.raises(InvalidCommand) as fr:
        vote()
    assert fr.value.message.startswith(
        f"Ministry of Health n’est pas membre permanent du GTI et ne vote donc pas{NBSP}; "
    )
    with pytest.raises(InvalidCommand) as en:
        vote()
    assert en.value.message.startswith(
        "Ministry of Health is not a permanent member of the IAWG, so it does not vote; only "
    )


def test_problems_are_counted_without_a_parenthesised_plural() -> None:
    one = RosterError([Problem("roster.toml", "person[1]", "no email")])
    assert str(one).startswith("1 problem in the roster; nothing was imported:\n")
    two = ProblemsError([Problem("a", "b", "c"), Problem("d", "e", "f")])
    assert str(two).startswith("2 problems found:\n")
    with i18n.using("fr"):
        french = RosterError([Problem("roster.toml", "person[1]", "no email")] * 3)
    assert str(french).startswith(
        f"3 problèmes dans la liste des participants{NBSP}; rien n’a été importé{NBSP}:"
    )


# --- labels ---------------------------------------------------------------------------------


def test_request_kind_labels_are_french_where_shown_and_english_as_data() -> None:
    assert LABELS["self_assessment"] == "self-assessment"  # the stored English msgid
    with i18n.using("fr"):
        assert label("self_assessment") == "auto-évaluation"
        assert KINDS["activity_inventory"].label == "inventaire des activités en cours et prévues"
        assert KINDS["vote"].who_answers == "son membre du GTI ou le représentant qu’il a désigné"
        assert KINDS["self_assessment"].fields[0].label == ("Cadre juridique et réglementaire")
        _fields, _text, problems = check_answer("consultation_comments", {}, None)
        assert problems == [
            f"Vos observations{NBSP}: veuillez les rédiger, ou écrire «{NBSP}pas d’observations"
            f"{NBSP}»."
        ]
    assert label("self_assessment") == "self-assessment"
    assert label("no_such_kind") == "no_such_kind"


def test_document_kind_labels_and_decision_subjects_are_french() -> None:
    with i18n.using("fr"):
        assert i18n.gettext(DOCUMENT_KINDS["terms_of_reference"]) == "termes de référence"
        assert i18n.gettext(DOCUMENT_KINDS["adoption_act"]) == "acte d’adoption"
        assert i18n.gettext(DECISION_SUBJECTS["objectives"]) == "les objectifs principaux"
    french = {k: in_("fr", i18n.gettext, v) for k, v in DOCUMENT_KINDS.items()}
    assert all(french[k] != v for k, v in DOCUMENT_KINDS.items()), french


def test_remedy_labels_are_french() -> None:
    f = facts()
    assert [r.label for r in in_("fr", remedies, "focal_points_named", {}, f)] == [
        "Ajouter un point focal"
    ]
    assert [r.label for r in remedies("focal_points_named", {}, f)] == ["Add a focal point"]


# --- the pseudo-locale: nothing left unmarked -----------------------------------------------


def _every_blocker() -> list[tuple[str, Facts]]:
    """Each guard's sentences, deprived of the fact it needs (and on an empty process)."""
    out = []
    for param in STEP_GUARDS:
        step, spec = param.values
        remove, _expected = REMOVALS[_key(spec)]
        f = remove(full_facts())
        out += [(b, f) for b in in_("en_XA", ENGINE.blockers, step, f)]
    chapters = (Chapter(1, "Border control"), Chapter(2, "Customs", lead="A lead"))
    for name in REGISTRY:
        for f in (facts(), full_facts(chapters=chapters), full_facts(task_forces=())):
            args = {p.name: p.default for p in REGISTRY[name].params if not p.required}
            for p in REGISTRY[name].params:
                if p.required:
                    args[p.name] = [p.choices[0]] if p.kind is list else p.choices[0]
            out += [(b, f) for b in in_("en_XA", check, name, f, **args)]
    return out


def test_every_guard_sentence_is_marked_for_translation() -> None:
    blockers = _every_blocker()
    assert len(blockers) > 20
    for sentence, f in blockers:
        assert unmarked_english(sentence, data=_data(f)) == [], sentence


def test_every_remedy_label_is_marked_for_translation() -> None:
    f = facts(decisions=(decision(7, "terms_of_reference"),))
    labels = []
    for name in REGISTRY:
        for args in ({"kind": "terms_of_reference", "subject": "objectives", "kinds": ["vote"]},):
            labels += [r.label for r in in_("en_XA", remedies, name, args, f)]
    labels += [r.label for r in in_("en_XA", remedies, "decision_adopted", {"subject": "terms_of_reference"}, f)]  # fmt: skip
    assert len(labels) >= 15
    for text in labels:
        assert unmarked_english(text) == [], text


# --- exports --------------------------------------------------------------------------------


@pytest.fixture
def report(ctx: Context, clock: FixedClock, tmp_path: Path) -> DeadlineReport:
    sc.build(ctx, clock, tmp_path)
    return deadline_report(ctx, at=sc.AT)


@sqlite_only
def test_the_csv_header_follows_the_language(report: DeadlineReport) -> None:
    assert csv_header() == CSV_HEADER
    english = next(csv.reader(io.StringIO(report_csv(report))))
    assert tuple(english) == CSV_HEADER
    with i18n.using("fr"):
        french = next(csv.reader(io.StringIO(report_csv(report))))
    assert french[:4] == ["processus", "type", "id_demande", "étape"]
    assert french[-2:] == ["jours_ouvrés_de_retard", "jours_ouvrés_restants"]
    assert len(french) == len(CSV_HEADER)


@sqlite_only
def test_the_calendar_speaks_french(report: DeadlineReport) -> None:
    with i18n.using("fr"):
        calendar = icalendar.Calendar.from_ical(report_ical(report, host="interior.example"))
    events = {str(e["uid"]): e for e in calendar.walk("VEVENT")}
    step = events["step-1@interior.example"]
    assert str(step["summary"]).startswith(f"[{sc.KEY}] Échéance de l’étape{NBSP}: ")
    late = next(e for uid, e in events.items() if "Customs Directorate" in str(e["summary"]))
    assert f"Projet de chapitre{NBSP}: réponse attendue de Customs Directorate" in str(
        late["summary"]
    )
    description = str(late["description"])
    assert "En retard de 5 jours ouvrés au " in description
    assert "heure du Maroc" in description and "Échéance" in description
    assert str(calendar["x-wr-calname"]) == "échéances ibmflow"


# --- through the API: the reader's language -------------------------------------------------


@sqlite_only
def test_the_api_refuses_in_the_readers_language(site: Site) -> None:
    token = accounts.issue_token(site.ctx, EMAILS[COORDINATOR], actor="test")
    api = site.client()
    api.headers["Authorization"] = f"Bearer {token}"
    french = {"Accept-Language": "fr-FR,fr;q=0.9"}
    blocked = api.post(f"/api/processes/{MINE}/advance", json={}, headers=french)
    assert blocked.status_code == 400
    body = blocked.json()
    assert "ne peut pas encore être achevée" in body["message"], body
    assert any("n’ont pas accusé réception" in b or "n’a pas accusé réception" in b
               for b in body["blockers"]), body  # fmt: skip
    unknown = api.post(f"/api/processes/{MINE}/requests", json={"kind": "gossip"}, headers=french)
    assert unknown.status_code == 400
    assert unknown.json()["message"].startswith(f"type de demande inconnu 'gossip'{NBSP};")
    english = api.post(f"/api/processes/{MINE}/requests", json={"kind": "gossip"})
    assert english.json()["message"].startswith("unknown request kind 'gossip'; one of ")
    assert isinstance(api, httpx.Client)


def test_each_field_problem_is_found_by_its_field_in_french() -> None:
    """A form shows a problem beside its field: found by name, whatever the punctuation."""
    with i18n.using("fr"):
        found = field_problems("self_assessment", {"legal_framework": "9"})
    assert found["legal_framework"] == (
        f"Cadre juridique et réglementaire{NBSP}: donnez une note de 1 à 5."
    )
    assert found["procedures"] == f"Procédures{NBSP}: veuillez remplir ce champ."
    assert len(found) == 6


def test_a_refused_name_is_explained_in_the_readers_language() -> None:
    from ibmflow import text

    with i18n.using("fr"), pytest.raises(InvalidCommand) as fr:
        text.clean("", text.PROCESS_TITLE)
    assert fr.value.message == (
        "le titre du processus est obligatoire et ne peut pas être vide, par exemple "
        "« Stratégie nationale de GIF du Maroc »."
    )
    with pytest.raises(InvalidCommand) as en:
        text.clean("a\nb", text.PROCESS_TITLE)
    assert en.value.message == (
        'the process title "a\\x0ab" contains a control character (\\x0a); write it on one '
        "line, as plain text."
    )
