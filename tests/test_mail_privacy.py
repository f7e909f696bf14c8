"""A notice sent to many people is one mail per person: nobody learns the addresses of the other
ministries' focal points, members and representatives from a step notice or a decision's result.

Driven through the service layer to the fifth step (roster, votes, objectives), then delivered by the
real dispatcher to a real SMTP server on loopback (aiosmtpd), and read there as the recipients read it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from email.utils import getaddresses

import pytest
from smtpsink import Sink, deliver, outgoing

from ibmflow.demo import drive
from ibmflow.services.context import Context

KEY = "PRIVACY-1"
# The subjects of the step notices and of a decision's result (notifications/en/*.subject.txt).
NOTICES = ("Now under way:", "Completed:", "IAWG decision #")


@pytest.fixture
def sink(ctx: Context) -> Iterator[Sink]:
    with outgoing(ctx) as received:
        yield received


def test_step_notices_and_decision_results_go_to_each_person_alone(
    ctx: Context, sink: Sink
) -> None:
    """Every step notice and decision result arrives with one address in the envelope, in To: and
    nowhere else (no Cc, no Bcc); each person addressed still gets each notice once."""
    drive(ctx, KEY, until=5)
    deliver(ctx, sink)

    notices = [
        (envelope, message)
        for envelope, message in sink.messages
        if any(words in message["Subject"] for words in NOTICES)
    ]
    assert len(notices) >= 8, [m["Subject"] for _, m in sink.messages]
    for envelope, message in notices:
        shown = [address for _, address in getaddresses(message.get_all("To", []))]
        assert len(envelope) == 1 and shown == envelope, (message["Subject"], envelope, shown)
        assert message["Cc"] is None and message["Bcc"] is None
    # One mail per person per notice: nobody got a notice twice.
    per_person = Counter((envelope[0], message["Subject"]) for envelope, message in notices)
    assert max(per_person.values()) == 1, per_person.most_common(3)
    # The notices reached more than one institution's people (the point of the test).
    assert len({envelope[0].split("@")[1] for envelope, _ in notices}) >= 3
