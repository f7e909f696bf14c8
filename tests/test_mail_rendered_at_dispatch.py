"""A mail is kept as what it says (context and language) and rendered when it is sent.

The stored context renders every kind exactly as the context itself, in every language; a mail
arrives at the SMTP server as it reads on the console before it left; the row then keeps the text
it was sent with; a template broken after the mail was written fails that mail with the reason
and tells the coordinator, never a traceback, and the other mails still leave.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import replace
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

import pytest
from scenarios import at_stakeholder_identification
from smtpsink import deliver, outgoing
from sqlmodel import col, select

from ibmflow import i18n
from ibmflow.definitions import Localized
from ibmflow.mail import stored
from ibmflow.mail.render import MESSAGE_KINDS, Renderer
from ibmflow.mail.samples import sample_context
from ibmflow.services import outgoing as outgoing_mail
from ibmflow.services.context import Context
from ibmflow.services.dispatch import build_transport, dispatch_once
from ibmflow.storage.tables import OutboxRow

REPO = Path(__file__).resolve().parent.parent
KEY = "MA-DISPATCH"


@pytest.mark.parametrize("language", ["en", "fr", i18n.PSEUDO])
@pytest.mark.parametrize("kind", MESSAGE_KINDS)
def test_a_stored_context_renders_every_kind_as_the_context_itself(
    kind: str, language: str
) -> None:
    renderer = Renderer(REPO / "notifications")
    context = sample_context(kind)
    kept = stored.loads(stored.dumps(context, language))
    assert renderer.render(kind, kept, language) == renderer.render(kind, context, language)


@pytest.mark.parametrize("language", ["en", "fr", i18n.PSEUDO])
@pytest.mark.parametrize("kind", MESSAGE_KINDS)
def test_a_stored_context_is_the_text_json_dumps_writes(kind: str, language: str) -> None:
    """The outbox's encoder, built once per language, writes what `json.dumps` would."""
    context = {
        **sample_context(kind),
        "said": i18n.Lazy(lambda: i18n.gettext("Needs my attention")),
        "names": ("a", "b", "é’"),
        "nested": {"at": datetime(2027, 4, 14, 9, 0, tzinfo=UTC), "n": [1, 2.5, None, True]},
    }
    expected = json.dumps(
        context,
        default=partial(stored._default, language),
        ensure_ascii=False,
        separators=(",", ":"),
    )
    assert stored.dumps(context, language) == expected
    assert stored.dumps(context, language) == expected  # the kept encoder, again


def test_moments_days_texts_and_sentences_worded_later_come_back() -> None:
    moment = datetime(2027, 4, 14, 9, 0, tzinfo=UTC)
    lazy = i18n.Lazy(lambda: i18n.gettext("Needs my attention"))
    context = {
        "at": moment,
        "on": date(2027, 4, 14),
        "title": Localized.of({"en": "Approval", "fr": "Approbation"}),
        "said": lazy,
        "names": ("a", "b"),
    }
    kept = stored.loads(stored.dumps(context, "fr"))
    assert kept["at"] == moment and kept["on"] == date(2027, 4, 14)
    assert kept["title"].texts == {"en": "Approval", "fr": "Approbation"}
    with i18n.using("fr"):
        assert str(kept["said"]) == i18n.gettext("Needs my attention")  # worded in French, once
    assert kept["names"] == ["a", "b"]


def test_a_value_the_outbox_cannot_keep_is_refused_when_the_mail_is_written() -> None:
    with pytest.raises(TypeError, match="the outbox cannot keep"):
        stored.dumps({"person": object()}, "en")


def _requests(ctx: Context) -> list[OutboxRow]:
    with ctx.db.reading() as session:
        rows = list(
            session.exec(
                select(OutboxRow).where(OutboxRow.kind == "request").order_by(col(OutboxRow.id))
            )
        )
        session.expunge_all()
    return rows


def test_a_request_is_kept_unrendered_shown_as_it_will_be_sent_and_keeps_the_text_it_left_with(
    ctx: Context, tmp_path: Path
) -> None:
    at_stakeholder_identification(ctx, KEY, tmp_path)
    pending = _requests(ctx)
    assert pending and all(r.text_body is None and r.template_context for r in pending)
    assert {r.language for r in pending} >= {"en"}
    shown = {r.id: outgoing_mail.show_mail(ctx, r.id or 0) for r in pending}
    with outgoing(ctx) as sink:
        arrived = deliver(ctx, sink)
    for row in _requests(ctx):
        assert row.status == "sent" and row.template_context is None  # its text kept instead
        assert row.text_body == shown[row.id].text and row.subject == shown[row.id].subject
        (message,) = arrived[row.to_addrs[0]]
        assert message["Subject"] == row.subject
        body = message.get_body(("plain",))
        assert body is not None and body.get_content().replace("\r\n", "\n") == row.text_body


def test_a_template_broken_after_the_mail_was_written_fails_that_mail_and_tells_the_coordinator(
    ctx: Context, tmp_path: Path
) -> None:
    at_stakeholder_identification(ctx, KEY, tmp_path)
    broken = tmp_path / "notifications"
    shutil.copytree(REPO / "notifications", broken)
    (broken / "request.txt").write_text("Dear {{ recipient.nickname }},\n", encoding="utf-8")
    ctx.settings = replace(ctx.settings, notifications_dir=broken)
    listed = {m.id: m for m in outgoing_mail.list_mail(ctx, KEY, "pending")}  # no error shown
    requests = _requests(ctx)
    assert requests
    assert all(
        "cannot be rendered" in outgoing_mail.show_mail(ctx, r.id or 0).text for r in requests
    )
    assert all(listed[r.id].subject for r in requests)
    with outgoing(ctx) as sink:
        while asyncio.run(dispatch_once(ctx, build_transport(ctx.settings), worker_id="t")).claimed:
            pass
        subjects = [m["Subject"] for _, m in sink.messages]
    failed = _requests(ctx)
    assert len(failed) == len(requests)
    assert all(r.status == "failed" for r in failed)
    assert all("cannot render the message" in (r.last_error or "") for r in failed)
    assert all("nickname" in (r.last_error or "") for r in failed)
    told = [s for s in subjects if "Not delivered to" in s]  # delivery_failure.subject.txt
    assert len(told) == len(failed)  # one notice to the coordinator per failed mail
    assert len(subjects) > len(told)  # the step notices still left


def test_a_french_subject_arrives_with_its_spaces(ctx: Context, tmp_path: Path) -> None:
    """The standard library folded "Inspection : Accusé" between two encoded words, and the
    reader dropped the space there ("Inspection :Accusé"); it is read back as written now."""
    at_stakeholder_identification(ctx, KEY, tmp_path)
    french = [r for r in _requests(ctx) if r.language == "fr"]
    assert french
    with outgoing(ctx) as sink:
        arrived = deliver(ctx, sink)
    for row in _requests(ctx):
        if row.language == "fr":
            (message,) = arrived[row.to_addrs[0]]
            assert message["Subject"] == row.subject
