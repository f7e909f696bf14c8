"""The catalogs and the formatting of the reader's language (ibmflow/i18n.py, ibmflow/catalogs.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from jinja2 import Environment

from ibmflow import catalogs, i18n

FRIDAY_LATE = datetime(2026, 11, 20, 22, 59, tzinfo=UTC)


def _messages(path: Path) -> dict[object, object]:
    with path.open("rb") as handle:
        return {(m.context, m.id): m.string for m in read_po(handle) if m.id}


def test_the_committed_pot_is_what_the_code_marks(tmp_path: Path) -> None:
    """Re-extracted from the code, the `.pot` is the committed one: nothing marked is missing
    (run `python -m ibmflow.catalogs all` after marking a sentence)."""
    fresh = tmp_path / "fresh.pot"
    catalogs.extract(fresh)
    assert fresh.read_text(encoding="utf-8") == catalogs.POT.read_text(encoding="utf-8"), (
        "ibmflow/locale/ibmflow.pot is stale: run `python -m ibmflow.catalogs all` and translate "
        "the new entries of ibmflow/locale/fr/LC_MESSAGES/ibmflow.po"
    )


def test_the_french_catalog_translates_every_message_and_none_is_fuzzy() -> None:
    po = catalogs.LOCALE_DIR / "fr" / "LC_MESSAGES" / "ibmflow.po"
    with po.open("rb") as handle:
        catalog = read_po(handle, locale="fr")
    template = _messages(catalogs.POT)
    ids = {(m.context, m.id) for m in catalog if m.id}
    assert set(template) <= ids, (
        f"not in the French catalog: {sorted(map(str, set(template) - ids))[:10]}"
    )
    untranslated = [
        m.id
        for m in catalog
        if m.id and not all(m.string if isinstance(m.string, tuple) else [m.string])
    ]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not untranslated, f"untranslated in French: {untranslated[:10]}"
    assert not fuzzy, f"fuzzy in French (check and clear the flag): {fuzzy[:10]}"


def test_the_pseudo_locale_is_generated_from_the_current_pot(tmp_path: Path) -> None:
    committed = (catalogs.LOCALE_DIR / i18n.PSEUDO / "LC_MESSAGES" / "ibmflow.po").read_bytes()
    regenerated = catalogs.pseudo().read_bytes()
    assert regenerated == committed
    assert set(_messages(catalogs.POT)) == set(
        _messages(catalogs.LOCALE_DIR / i18n.PSEUDO / "LC_MESSAGES" / "ibmflow.po")
    )


def test_pseudo_text_keeps_placeholders_tags_and_addresses() -> None:
    text = catalogs.pseudo_text(
        'Open <a href="%(link)s">the form</a> by %(due)s: https://x.example/a'
    )
    assert text.startswith(catalogs.OPEN) and text.endswith(catalogs.CLOSE)
    assert '<a href="%(link)s">' in text and "%(due)s" in text and "https://x.example/a" in text
    assert "form" not in text


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", ["0 working days", "1 working day", "2 working days", "5 working days"]),
        ("fr", ["0 jour ouvré", "1 jour ouvré", "2 jours ouvrés", "5 jours ouvrés"]),
    ],
)
def test_plural_forms_for_0_1_2_and_5(lang: str, expected: list[str]) -> None:
    with i18n.using(lang):
        assert [i18n.working_days(n) for n in (0, 1, 2, 5)] == expected


@pytest.mark.parametrize(
    ("lang", "zone", "expected"),
    [
        ("en", "Africa/Casablanca", "Friday 20 November 2026, 23:59 Morocco time"),
        ("fr", "Africa/Casablanca", "vendredi 20 novembre 2026 à 23:59, heure du Maroc"),
        ("en", "Africa/Dakar", "Friday 20 November 2026, 22:59 Senegal time"),
        ("fr", "Africa/Dakar", "vendredi 20 novembre 2026 à 22:59, heure du Sénégal"),
        ("fr", "Europe/Madrid", "vendredi 20 novembre 2026 à 23:59, heure de l’Espagne"),
    ],
)
def test_dates_in_the_readers_locale_and_the_process_zone(
    lang: str, zone: str, expected: str
) -> None:
    with i18n.using(lang):
        assert i18n.format_datetime(FRIDAY_LATE, zone) == expected


def test_numbers_percentages_and_weekdays_follow_the_locale() -> None:
    with i18n.using("fr"):
        assert i18n.format_percent(0.875) == "88\xa0%"
        assert i18n.format_number(1234.5) == "1\u202f234,5"
        assert i18n.weekday(date(2026, 11, 20)) == "vendredi"
    with i18n.using("en"):
        assert i18n.format_percent(0.875) == "88%"
        assert i18n.format_number(1234.5) == "1,234.5"
        assert i18n.weekday(date(2026, 11, 20)) == "Friday"


def test_a_count_in_a_template_is_written_as_the_reader_writes_numbers() -> None:
    # A template's `ngettext` fills `%(num)s` as Python's does: 1,000 in English, 1 000 in French
    # (it once wrote 1000 beside a heading that said 1,000).
    env = Environment(autoescape=True)
    i18n.install(env)
    counted = env.from_string('{{ ngettext("%(num)s result.", "%(num)s results.", n) }}')
    with i18n.using("en"):
        assert counted.render(n=1000) == "1,000 results."
        assert counted.render(n=1) == "1 result."
    with i18n.using("fr"):
        assert counted.render(n=1000) == "1\u202f000 résultats."


def test_outside_any_block_ibmflow_speaks_english_and_blocks_nest() -> None:
    assert i18n.language() == "en"
    with i18n.using("fr"):
        with i18n.using("en"):
            assert i18n.gettext("no set date") == "no set date"
        assert i18n.gettext("no set date") == "sans date fixée"
    with i18n.using("xx"):
        assert i18n.language() == "en"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr-FR,fr;q=0.9,en;q=0.8", "fr"),
        ("en-GB,en;q=0.9,fr;q=0.5", "en"),
        ("de-DE,de;q=0.9,fr;q=0.3", "fr"),
        ("de-DE", None),
        ("fr;q=bad, en", "en"),
        ("", None),
        (None, None),
    ],
)
def test_accept_language_picks_an_offered_language(
    header: str | None, expected: str | None
) -> None:
    assert i18n.best_match(header, ("en", "fr")) == expected


def test_every_french_translation_keeps_the_placeholders_of_its_english() -> None:
    """A translation that drops or renames a `%(name)s` would fail at rendering: Babel's checkers
    compare each French entry with its English."""
    po = catalogs.LOCALE_DIR / "fr" / "LC_MESSAGES" / "ibmflow.po"
    with po.open("rb") as handle:
        catalog = read_po(handle, locale="fr")
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check() if errors]
    assert problems == []
