"""Workflow definitions in several languages: the two ways of writing a text, the reader's language
(falling back to the workflow's first), `ibmflow validate` naming a missing translation, and the
shipped IBM workflow complete in English and French, down to the answer page a focal point opens."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from outboxtext import one_with_text
from scenarios import at_stakeholder_identification
from sqlmodel import select

from ibmflow import i18n
from ibmflow.catalogs import OPEN, pseudo_text
from ibmflow.cli import run
from ibmflow.definitions import Definition, load_definition, parse_definition
from ibmflow.errors import DefinitionError
from ibmflow.services.context import Context
from ibmflow.storage.tables import OutboxRow, RequestRow

TESTS = Path(__file__).resolve().parent
REAL = TESTS.parent / "workflows" / "ibm_strategy.toml"
MINIMAL = TESTS / "workflows" / "valid" / "minimal.toml"
BILINGUAL = TESTS / "workflows" / "valid" / "bilingual.toml"
INVALID = TESTS / "workflows" / "invalid"
ACKNOWLEDGE_EN = "Please confirm that you are the focal point of your institution"
ACKNOWLEDGE_FR = "Veuillez confirmer que vous êtes le point focal de votre institution"


@pytest.fixture(scope="module")
def ibm() -> Definition:
    return load_definition(REAL)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No `IBMFLOW_*` variable from the caller's shell, and an empty working folder."""
    for name in list(os.environ):
        if name.startswith("IBMFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- the two forms ----------------------------------------------------------------------------------


def test_dotted_keys_and_inline_tables_read_the_same() -> None:
    """`title.fr = "..."` lines and `title = { en = ..., fr = ... }` both give a text per language."""
    flow = load_definition(BILINGUAL)
    assert flow.languages == ("en", "fr")
    dotted, inline = flow.state("drafting"), flow.state("approval")
    assert dict(dotted.title_text.texts) == {
        "en": "Drafting of the objectives",
        "fr": "Rédaction des objectifs",
    }
    assert dict(inline.title_text.texts) == {
        "en": "Approval of the objectives",
        "fr": "Approbation des objectifs",
    }
    with i18n.using("fr"):
        assert (flow.title, flow.description) == (
            "Processus minimal",
            "Rédiger les objectifs, les faire adopter par le GTI, terminé.",
        )
        assert dotted.opens[0].instructions == "Veuillez noter votre institution."
    assert flow.title == "Minimal workflow"


def test_a_plain_string_is_the_one_language_of_a_workflow_that_declares_none() -> None:
    """Without `languages`, a workflow is English and every reader gets its English text."""
    flow = load_definition(MINIMAL)
    assert flow.languages == ("en",)
    with i18n.using("fr"):
        assert flow.state("drafting").title == "Drafting of the objectives"


def test_a_french_only_workflow_falls_back_to_french_for_an_english_reader() -> None:
    """The first declared language is the fallback: a French workflow's plain strings are French."""
    text = (
        MINIMAL.read_text(encoding="utf-8")
        .replace("version = 1\n", 'version = 1\nlanguages = ["fr"]\n')
        .replace('title = "Drafting of the objectives"', 'title = "Rédaction des objectifs"')
    )
    flow = parse_definition(text, "french.toml")
    assert flow.languages == ("fr",)
    assert flow.state("drafting").title == "Rédaction des objectifs"  # English outside `using`
    with i18n.using("fr"):
        assert flow.state("drafting").title == "Rédaction des objectifs"


def test_every_missing_translation_is_reported_at_once() -> None:
    """Two languages declared: each text lacking one is named, with the key to add."""
    text = BILINGUAL.read_text(encoding="utf-8")
    text = text.replace('title.fr = "Rédaction des objectifs"\n', "")
    text = text.replace('instructions.fr = "Veuillez noter votre institution."\n', "")
    with pytest.raises(DefinitionError) as caught:
        parse_definition(text, "two.toml")
    assert [str(p) for p in caught.value.problems] == [
        'two.toml: states[1] (drafting).title: no "fr" text; add title.fr = "..."',
        'two.toml: states[1] (drafting).opens[1].instructions: no "fr" text; '
        'add instructions.fr = "..."',
    ]


# --- the reader's language ----------------------------------------------------------------------------


def test_titles_descriptions_and_instructions_follow_the_readers_language(ibm: Definition) -> None:
    """The same frozen definition answers in English, in French, and (accented) in the pseudo-locale."""
    first = ibm.state("coordinator_appointment")
    assert first.title == "Identification of a national coordinator"
    with i18n.using("fr"):
        assert first.title == "Désignation du coordinateur national de la GIF"
        assert first.description.startswith("Volonté politique\u00a0: l’autorité de nomination")
        assert ibm.title == "Stratégie nationale de GIF"
        opening = ibm.state("stakeholder_identification").opens[0]
        assert opening.instructions.startswith(ACKNOWLEDGE_FR)
    with i18n.using(i18n.PSEUDO):
        assert first.title == pseudo_text("Identification of a national coordinator")
        assert first.title.startswith(OPEN)
    assert str(first.title_text) == first.title  # Jinja prints it in the reader's language too


def test_stored_instructions_are_shown_in_the_readers_language(ibm: Definition) -> None:
    """A request stores the workflow's first language; any copy of the step's text is shown in the
    reader's, and instructions someone typed stay as written."""
    stored = ibm.state("stakeholder_identification").opens[0].instructions_text.first
    assert stored.startswith(ACKNOWLEDGE_EN)
    with i18n.using("fr"):
        shown = ibm.instructions("stakeholder_identification", "acknowledge_contact", stored)
        assert shown.startswith(ACKNOWLEDGE_FR)
        typed = "Merci de répondre avant vendredi."
        assert ibm.instructions("stakeholder_identification", "acknowledge_contact", typed) == typed
        assert ibm.instructions("objectives", "acknowledge_contact", stored) == stored


# --- ibmflow validate ------------------------------------------------------------------------------


def test_validate_names_a_missing_french_title(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ibmflow validate` prints the missing translation as FILE: where: what and exits 1."""
    path = INVALID / "language_missing_text.toml"
    assert run(["validate", str(path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f'{path}: states[2] (approval).title: no "fr" text; add title.fr = "..."'
    ]


def test_validate_wants_every_language_the_deployment_offers(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An English-only workflow where the deployment offers French too is one problem; offering
    English only, it is valid."""
    assert run(["validate", str(MINIMAL)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f'{MINIMAL}: workflow.languages: no "fr": this deployment offers it (process.languages), '
        "so every text needs a 'fr' version; declare it and add them (title.fr = \"...\")"
    ]
    monkeypatch.setenv("IBMFLOW_PROCESS_LANGUAGES", "en")
    assert run(["validate", str(MINIMAL)]) == 0
    assert capsys.readouterr().out.strip() == "1 definition(s) valid"


def test_the_shipped_workflow_is_complete_in_english_and_french(
    clean_env: Path, ibm: Definition, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every title, description and instruction of the IBM workflow has its French, distinct from
    the English, with French typography; and the deployment's validate passes."""
    assert ibm.languages == ("en", "fr")
    texts = [ibm.title_text, ibm.description_text]
    for state in ibm.states:
        texts += [state.title_text, state.description_text]
        texts += [o.instructions_text for o in state.opens]
    assert len(texts) == 2 + 2 * 10 + 4
    for text in texts:
        en, fr = text.get("en"), text.get("fr")
        assert en and fr and en != fr
        assert "'" not in fr, fr  # the typographic apostrophe
        assert not re.search(r"[^\u00a0][:;?!]", fr), fr  # a no-break space before : ; ? !
    assert run(["validate", str(REAL)]) == 0
    assert capsys.readouterr().out.strip() == "1 definition(s) valid"


# --- what a focal point sees ------------------------------------------------------------------------


def test_a_focal_point_reads_the_request_in_french_on_the_answer_page(
    start: Callable[[Context], str], ctx: Context, tmp_path: Path
) -> None:
    """The acknowledgement request stored in English is shown in French on the real answer page,
    and the step's title with it."""
    at_stakeholder_identification(ctx, "MA-1", tmp_path)
    with ctx.db.reading() as session:
        request = session.exec(
            select(RequestRow).where(RequestRow.kind == "acknowledge_contact")
        ).first()
        assert request is not None and request.instructions.startswith(ACKNOWLEDGE_EN)
        mail = session.exec(select(OutboxRow).where(OutboxRow.request_id == request.id)).first()
        assert mail is not None
        token = re.search(r"/r/([A-Za-z0-9_-]+)", one_with_text(ctx, mail).text_body or "")
    assert token
    with httpx.Client(base_url=start(ctx), timeout=20) as http:
        french = http.get(f"/r/{token.group(1)}", params={"lang": "fr"})
        english = http.get(f"/r/{token.group(1)}", params={"lang": "en"})
    assert french.status_code == 200, french.text
    assert ACKNOWLEDGE_FR in french.text
    assert "Identification des principales parties prenantes et prise de contact" in french.text
    assert ACKNOWLEDGE_EN in english.text
    assert ACKNOWLEDGE_FR not in english.text
