"""Every mail a whole process sends, read at the SMTP server, is in its recipient's language with no
English left unmarked: the process is driven from appointment to adoption in the pseudo-locale
(`en_XA`, every catalog message accented and bracketed), the chaser rings, the mails are delivered
by the real dispatcher to aiosmtpd on loopback, and each mail's subject, text and HTML are read.

The demo roster has French readers (Veterinary Inspection, the Phytosanitary focal point): their
mails must be French, not pseudo-English.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage

import pytest
from i18n_check import unmarked_english
from smtpsink import Sink, deliver, outgoing
from sqlmodel import select

from ibmflow.demo import drive, in_progress
from ibmflow.services import chase
from ibmflow.services.context import Context
from ibmflow.storage.tables import InstitutionRow

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def pseudo(ctx: Context) -> Iterator[Sink]:
    ctx.settings = dataclasses.replace(
        ctx.settings, language="en_XA", languages=("en", "fr", "en_XA")
    )
    with outgoing(ctx) as received:
        yield received


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    return (text.get_content() if text else "", html.get_content() if html else "")


def _data(ctx: Context) -> list[str]:
    """The names, short names, codes and addresses of the demo's roster: data, not sentences."""
    import tomllib

    from ibmflow.demo import demo_roster_text

    found: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, str):
            found.add(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(tomllib.loads(demo_roster_text()))
    with ctx.db.reading() as session:
        for row in session.exec(select(InstitutionRow)):
            found |= {row.name, row.short_name, row.code}
    found |= {"Demo national IBM strategy, in progress", "Demo national IBM strategy"}
    found |= {"Karim Benali", "Karim"}
    return sorted(found)


def _language(html: str) -> str:
    found = re.search(r'<html lang="([^"]+)"', html)
    return found.group(1) if found else "?"


@sqlite_only
def test_every_mail_of_a_whole_process_is_in_its_readers_language(
    ctx: Context, pseudo: Sink
) -> None:
    in_progress(ctx, "LATE-1")  # overdue requests: the chaser has reminders and escalations to send
    for days in (0, 3, 8, 15):
        chase.sweep(ctx, now=ctx.clock.now() + timedelta(days=days))
    drive(ctx, "FULL-1")  # appointment to adoption
    deliver(ctx, pseudo)
    data = _data(ctx)
    kinds: Counter[str] = Counter()
    left: dict[str, list[str]] = {}
    french = 0
    for _envelope, message in pseudo.messages:
        text, html = _parts(message)
        lang = _language(html)
        subject = str(message["Subject"])
        if lang == "fr":
            french += 1
            assert not unmarked_english(subject + "\n" + text, data) or "⟦" not in text, subject
            continue
        assert lang == "en-XA", (subject, lang)
        kinds[subject.split("⟧")[0][:40]] += 1
        for part, body in (("subject", subject), ("text", text), ("html", html)):
            words = unmarked_english(body, data)
            if words:
                left.setdefault(f"{subject[:60]} ({part})", words)
    assert french > 0, "the demo's French readers got no mail"
    assert len(pseudo.messages) > 100
    assert left == {}, "\n".join(f"{k}: {v}" for k, v in left.items())
