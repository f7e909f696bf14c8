"""Every mail in every language: one set of templates, sentences from the catalogs, dates and numbers
formatted at render time in the recipient's language and the process's time zone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from clirun import Cli, invoker
from i18n_check import unmarked_english

import ibmflow.cli.mail  # noqa: F401  (registers `ibmflow mail` until cli.run imports it)
from ibmflow.mail.render import MESSAGE_KINDS, Renderer
from ibmflow.mail.samples import sample_context

REPO = Path(__file__).resolve().parent.parent
NOTIFICATIONS = REPO / "notifications"

# A sentence of each kind's French mail, as a French-speaking civil servant reads it.
FRENCH = {
    "request": "Merci de répondre au plus tard le lundi 19 janvier 2026 à 18:00, heure du Maroc.",
    "vote": "Les décisions du GTI sont prises à l’unanimité",
    "step_entered": "Échéance\N{NO-BREAK SPACE}: lundi 2 mars 2026 à 18:00, heure du Maroc.",
    "step_completed": "est achevée\N{NO-BREAK SPACE}; le processus passe à l’étape",
    "decision_result": "du groupe de travail interinstitutionnel sur «\N{NO-BREAK SPACE}Adopt",
    "process_adopted": "a été adoptée au plus haut niveau par Council of Government "
    "(Decision 12/2026, 20 novembre 2026).",
    "answer_receipt": "a été reçue le jeudi 15 janvier 2026 à 10:24, heure du Maroc (par lien)",
    "delivery_failure": "Le destinataire n’a pas reçu la demande.",
    "quarantine_alert": "2 messages reçus n’ont pas pu être enregistrés comme réponses",
    "reminder": "Elle a maintenant 5 jours ouvrés de retard.",
    "escalation": "pourriez-vous veiller à ce que la réponse soit envoyée\N{NO-BREAK SPACE}?",
    "step_overdue": "Elle a maintenant 1 jour ouvré de retard.",
    "chase_digest": "3 points de la National IBM Strategy of Morocco sont en attente.",
    "digest": "Réactivité des institutions",
    "deadline_extended": "Elle est désormais à rendre le lundi 26 janvier 2026 à 23:59, heure du Maroc",
    "request_reopened": "La réponse précédente, donnée le mercredi 14 janvier 2026 à 11:20",
}
_COMMAND = re.compile(r"ibmflow [a-z]+ [a-z]+[^\n`<]*")


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(NOTIFICATIONS, "en")


def _strings(value: Any) -> Iterator[str]:
    """Every string of a sample context: data, never a sentence to translate."""
    if isinstance(value, str):
        yield value
        yield from re.split(r"[<>]", value)  # an address in angle brackets reads as a tag
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def test_every_kind_has_a_french_sentence_to_check() -> None:
    assert set(FRENCH) == set(MESSAGE_KINDS)


@pytest.mark.parametrize("kind", MESSAGE_KINDS)
def test_every_kind_renders_in_french(renderer: Renderer, kind: str) -> None:
    mail = renderer.render(kind, sample_context(kind), "fr")
    assert FRENCH[kind] in mail.text, mail.text
    assert '<html lang="fr">' in mail.html
    # The HTML part says it too (the same sentence, perhaps with markup around the values).
    words = [w for w in re.split(r"\W+", FRENCH[kind]) if len(w) > 3]
    visible = re.sub(r"<[^>]+>", "", mail.html).replace("&#39;", "'")
    assert all(w in visible for w in words), (kind, [w for w in words if w not in visible])
    for english in ("Dear ", "With thanks", "working day", "Morocco time", "(Africa/"):
        assert english not in mail.text + mail.subject + mail.html


@pytest.mark.parametrize("kind", MESSAGE_KINDS)
def test_every_kind_leaves_no_english_unmarked(renderer: Renderer, kind: str) -> None:
    """In the pseudo-locale every sentence is bracketed: what is left is data (names, titles,
    addresses, the sample's instructions) or a command line to type."""
    context = sample_context(kind)
    mail = renderer.render(kind, context, "en_XA")
    data = list(_strings(context))
    for part in (mail.subject, mail.text, mail.html):
        assert unmarked_english(part, [*data, *_COMMAND.findall(part)]) == [], part
    assert '<html lang="en-XA">' in mail.html


def test_counted_sentences_take_the_plural_form_of_each_language(renderer: Renderer) -> None:
    context = sample_context("reminder")
    for days, english, french in (
        (1, "It is now 1 working day overdue.", "Elle a maintenant 1 jour ouvré de retard."),
        (5, "It is now 5 working days overdue.", "Elle a maintenant 5 jours ouvrés de retard."),
    ):
        context["reminder"]["working_days_overdue"] = days
        assert english in renderer.render("reminder", context, "en").text
        assert french in renderer.render("reminder", context, "fr").text
    digest = sample_context("chase_digest")
    subject = renderer.render("chase_digest", digest, "fr").subject
    assert subject.endswith(
        "3 points en attente\N{NO-BREAK SPACE}: 1 demande à traiter, "
        "1 signalement à la hiérarchie, 1 étape en retard"
    )
    assert "day(s)" not in renderer.render("digest", sample_context("digest"), "en").text


def test_a_due_date_is_written_in_the_readers_language_and_the_process_zone(
    renderer: Renderer,
) -> None:
    context = sample_context("request")
    context["request"]["due_at"] = datetime(2026, 11, 20, 22, 59, tzinfo=ZoneInfo("UTC"))
    english = renderer.render("request", context, "en")
    assert "Please answer by Friday 20 November 2026, 23:59 Morocco time." in english.text
    assert "<strong>Friday 20 November 2026, 23:59 Morocco time</strong>" in english.html
    assert english.subject.endswith("by Friday 20 November 2026, 23:59 Morocco time")
    french = renderer.render("request", context, "fr")
    assert "vendredi 20 novembre 2026 à 23:59, heure du Maroc" in french.text
    assert french.subject.endswith("pour le vendredi 20 novembre 2026 à 23:59, heure du Maroc")


def test_numbers_and_shares_follow_the_reader(renderer: Renderer) -> None:
    context = sample_context("digest")
    assert "(67%)" in renderer.render("digest", context, "en").text
    assert "(67\N{NARROW NO-BREAK SPACE}%)" in renderer.render("digest", context, "fr").text or (
        "(67\N{NO-BREAK SPACE}%)" in renderer.render("digest", context, "fr").text
    )


def test_a_value_in_a_translated_sentence_is_still_escaped_in_html(renderer: Renderer) -> None:
    context = sample_context("request")
    context["institution"]["name"] = "<b>Customs</b> & co"
    for language in ("en", "fr"):
        html = renderer.render("request", context, language).html
        assert "<b>Customs</b>" not in html and "&lt;b&gt;Customs&lt;/b&gt; &amp; co" in html


def test_an_unknown_language_speaks_english(renderer: Renderer) -> None:
    mail = renderer.render("request", sample_context("request"), "xx")
    assert mail.text.startswith("Dear Samira El Idrissi,")


@pytest.fixture
def bare_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Cli:
    """Run `ibmflow ARGS...` for commands that need no database (`mail preview`)."""
    monkeypatch.setenv("IBMFLOW_PATHS_NOTIFICATIONS_DIR", str(NOTIFICATIONS))
    monkeypatch.setenv("IBMFLOW_PATHS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return invoker(capsys)


def test_preview_renders_a_sample_in_the_language_asked_for(bare_cli: Cli) -> None:
    _, text, _ = bare_cli("mail", "preview", "vote", "--language", "fr")
    assert text.startswith("Subject: [MA-IBM-2026] Décision n° 3 du GTI")
    assert "Bonjour Youssef Alaoui," in text
    _, html, _ = bare_cli("mail", "preview", "vote", "--language", "fr", "--html")
    assert '<html lang="fr">' in html
    _, english, _ = bare_cli("mail", "preview", "vote")
    assert "Dear Youssef Alaoui," in english
    _, _, err = bare_cli("mail", "preview", "vote", "--language", "klingon", expect=1)
    assert "unknown language 'klingon'" in err
