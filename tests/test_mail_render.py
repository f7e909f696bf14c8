"""The notification templates: every kind renders with its sample, HTML is escaped, holes fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from ibmflow.errors import InvalidCommand
from ibmflow.mail.render import MESSAGE_KINDS, Renderer
from ibmflow.mail.samples import kinds_without_sample, sample_context

NOTIFICATIONS = Path(__file__).resolve().parent.parent / "notifications"


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(NOTIFICATIONS, "en")


def test_every_kind_has_a_sample() -> None:
    assert kinds_without_sample() == []


@pytest.mark.parametrize("kind", MESSAGE_KINDS)
def test_every_kind_renders_its_sample(renderer: Renderer, kind: str) -> None:
    mail = renderer.render(kind, sample_context(kind))
    assert mail.subject.startswith("[MA-IBM-2026] ")
    assert "\n" not in mail.subject and "{{" not in mail.subject
    assert mail.text.strip() and "{{" not in mail.text and "{%" not in mail.text
    assert mail.html.lstrip().startswith("<!doctype html>") and "{{" not in mail.html


@pytest.mark.parametrize("kind", ["request", "vote"])
def test_requests_carry_the_link_in_both_parts(renderer: Renderer, kind: str) -> None:
    context = sample_context(kind)
    mail = renderer.render(kind, context)
    assert context["link"] in mail.text
    assert f'href="{context["link"]}"' in mail.html


def test_html_escapes_a_script_in_a_name_and_text_keeps_it(renderer: Renderer) -> None:
    context = sample_context("request")
    context["recipient"]["name"] = "<script>alert('x')</script> Samira"
    context["request"]["instructions"] = 'Fill <b>this</b> & "that"'
    mail = renderer.render("request", context)
    assert "<script>" not in mail.html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Samira" in mail.html
    assert "Fill &lt;b&gt;this&lt;/b&gt; &amp; &#34;that&#34;" in mail.html
    assert "<script>alert('x')</script> Samira" in mail.text  # plain text is not HTML


def test_a_missing_variable_is_an_error_not_a_hole(renderer: Renderer) -> None:
    context = sample_context("request")
    del context["recipient"]
    with pytest.raises(InvalidCommand, match="undefined"):
        renderer.render("request", context)


def test_a_missing_nested_variable_is_an_error_too(renderer: Renderer) -> None:
    context = sample_context("step_completed")
    del context["next_step"]
    with pytest.raises(InvalidCommand, match="undefined"):
        renderer.render("step_completed", context)


def test_an_unknown_kind_is_refused_naming_the_known_ones(renderer: Renderer) -> None:
    with pytest.raises(InvalidCommand, match="request, vote"):
        renderer.render("newsletter", {})


def test_delivery_failure_says_what_to_do_for_a_request(renderer: Renderer) -> None:
    mail = renderer.render("delivery_failure", sample_context("delivery_failure"))
    assert "550 5.1.1" in mail.text
    assert "send it again" in mail.text
    assert "ibmflow mail show 118" in mail.text
    assert "focal@veterinary.example" in mail.subject


def test_one_folder_serves_every_language(renderer: Renderer) -> None:
    """No copy of the templates per language: the folder holds each kind once, and the language
    asked for picks the sentences and the formats, not a file."""
    assert not [p for p in NOTIFICATIONS.iterdir() if p.is_dir()]
    context = sample_context("step_entered")
    english = renderer.render("step_entered", context)
    assert '<html lang="en">' in english.html
    assert "Target: Monday 2 March 2026, 18:00 Morocco time." in english.text
    french = renderer.render("step_entered", context, "fr")
    assert '<html lang="fr">' in french.html
    assert "lundi 2 mars 2026 à 18:00, heure du Maroc" in french.text
