"""Sample data for every message kind: `ibmflow mail preview` renders with it, and the tests too.

Each context holds what the services pass for that kind, plus what every template may use
(`process`, `coordinator`, `base_url`, from `ibmflow.services.mailings.base_context`).
"""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from ibmflow.mail.render import MESSAGE_KINDS

_BASE: dict[str, Any] = {
    "process": {"key": "MA-IBM-2026", "title": "National IBM Strategy of Morocco"},
    "coordinator": {"name": "Karim Benali", "email": "coordinator@interior.example"},
    "base_url": "https://ibmflow.interior.example",
    "zone": "Africa/Casablanca",
}
_ZONE = ZoneInfo("Africa/Casablanca")


def _at(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A moment in Morocco (the sample process's zone); the templates format it."""
    return datetime(year, month, day, hour, minute, tzinfo=_ZONE)


_DUE = _at(2026, 1, 19, 18, 0)
_LINK = "https://ibmflow.interior.example/r/sample-token-not-valid"
_CUSTOMS = {
    "code": "MOF_CUSTOMS",
    "name": "Ministry of Finance \N{EN DASH} Customs Directorate",
    "short_name": "Customs Directorate",
}
_STEP = {"id": "situation_analysis", "title": "Analysis of the current situation"}

_SAMPLES: dict[str, dict[str, Any]] = {
    "request": {
        "recipient": {"name": "Samira El Idrissi", "email": "focal@customs.example"},
        "institution": _CUSTOMS,
        "request": {
            "id": 42,
            "kind": "self_assessment",
            "kind_label": "self-assessment",
            "instructions": "Please score your institution against each area of the "
            "self-assessment grid (IBM guidelines 2010), from 1 (absent) to 5 (fully in place), "
            "and attach the filled grid.",
            "due_at": _DUE,
        },
        "step": _STEP,
        "link": _LINK,
        "decision": None,
        "representing": None,
    },
    "vote": {
        "recipient": {"name": "Youssef Alaoui", "email": "focal@borderguard.example"},
        "institution": {
            "code": "MOI_BORDER_GUARD",
            "name": "Ministry of the Interior \N{EN DASH} Border Guard",
            "short_name": "Border Guard",
        },
        "request": {
            "id": 57,
            "kind": "vote",
            "kind_label": "vote",
            "instructions": "Adopt the Terms of Reference of the IAWG",
            "due_at": _DUE,
        },
        "step": {"id": "coordinating_bodies", "title": "Establishment of the coordinating bodies"},
        "link": _LINK,
        "decision": {"id": 3, "title": "Adopt the Terms of Reference of the IAWG"},
        "representing": {"name": "Hassan Tazi"},
    },
    "step_entered": {
        "step": {
            **_STEP,
            "description": "Gaps and needs analysis with the self-assessment grid, and the "
            "inventory of ongoing and planned border management activities.",
            "due_at": _at(2026, 3, 2, 18, 0),
        },
    },
    "step_completed": {
        "step": _STEP,
        "next_step": {
            "id": "chapter_drafting",
            "title": "Drafting of individual strategy chapters",
        },
    },
    "decision_result": {
        "decision": {
            "id": 3,
            "title": "Adopt the Terms of Reference of the IAWG",
            "outcome": "adopted",
        },
        "votes": [
            "Chair: approved by Amina Chair",
            "Visa regimes: approved by Leila Visa",
            "Border Guard: approved by Youssef Alaoui, representing Hassan Tazi",
            "Customs Directorate: approved by Samira El Idrissi",
            "Veterinary Inspection: approved by Omar Veterinary",
            "Phytosanitary Inspection: approved by Nadia Phyto",
        ],
        "objections": [],
    },
    "process_adopted": {
        "adoption": {
            "authority": "Council of Government",
            "reference": "Decision 12/2026",
            "adopted_on": date(2026, 11, 20),
        },
    },
    "answer_receipt": {
        "institution": _CUSTOMS,
        "request": {
            "id": 42,
            "kind_label": "self-assessment",
            "answered_at": _at(2026, 1, 15, 10, 24),
            "via": "link",
        },
    },
    "delivery_failure": {
        "failure": {
            "outbox_id": 118,
            "kind": "request",
            "to": ["focal@veterinary.example"],
            "subject": "[MA-IBM-2026] Self-assessment requested from Veterinary Inspection",
            "reason": "550 5.1.1 <focal@veterinary.example>: Recipient address rejected",
            "attempts": 1,
        },
    },
    "quarantine_alert": {
        "count": 2,
        "more": 0,
        "interval": {"unit": "hour", "count": 1},
        "messages": [
            {
                "id": 7,
                "sender": "someone@unknown.example",
                "subject": "Re: [MA-IBM-2026] Self-assessment requested from Customs Directorate",
                "reason": "someone@unknown.example is not a focal point or a registered deputy "
                "of Customs Directorate, to whom request #42 was sent",
                "received_at": _at(2026, 1, 15, 10, 24),
            },
            {
                "id": 8,
                "sender": "Rachid Alaoui <focal@customs.example>",
                "subject": "Re: [MA-IBM-2026] Self-assessment requested from Customs Directorate",
                "reason": "request #42 is already answered by focal@customs.example",
                "received_at": _at(2026, 1, 15, 11, 2),
            },
        ],
    },
    "reminder": {
        "recipient": {"name": "Samira El Idrissi", "email": "focal@customs.example"},
        "institution": _CUSTOMS,
        "request": {
            "id": 42,
            "kind": "self_assessment",
            "kind_label": "self-assessment",
            "instructions": "Please score your institution against each area of the grid.",
            "due_at": _DUE,
        },
        "step": _STEP,
        "link": _LINK,
        "decision": None,
        "representing": None,
        "reminder": {
            "rung": "overdue:5",
            "overdue": True,
            "working_days_left": 0,
            "working_days_overdue": 5,
            "due_day": date(2026, 1, 19),
        },
    },
    "escalation": {
        "recipients": [
            {"name": "Hassan Tazi", "role": "IAWG member"},
            {"name": "Karim Benali", "role": "coordinator"},
        ],
        "institution": _CUSTOMS,
        "request": {"id": 42, "kind_label": "self-assessment", "due_at": _DUE},
        "step": _STEP,
        "reminder": {
            "rung": "escalation",
            "overdue": True,
            "working_days_overdue": 5,
            "sent_at": _at(2025, 12, 22, 10, 2),
            "focal_points": "Samira El Idrissi",
            "reminders_sent": 2,
            "representatives": False,
            "due_day": date(2026, 1, 19),
        },
        "passed_over": [],
        "chased_as": "the focal point",
    },
    "chase_digest": {
        "recipient": {"name": "Youssef Amrani", "email": "chair@interior.example"},
        "items": [
            {
                "kind": "reminder",
                "institution": _CUSTOMS,
                "request": {
                    "id": 42,
                    "kind": "self_assessment",
                    "kind_label": "self-assessment",
                    "due_at": _DUE,
                },
                "step": _STEP,
                "reminder": {
                    "rung": "overdue:10",
                    "overdue": True,
                    "working_days_left": 0,
                    "working_days_overdue": 10,
                    "due_day": date(2026, 1, 19),
                },
                "link": _LINK,
                "representing": None,
            },
            {
                "kind": "escalation",
                "recipients": [
                    {"name": "Karim Benali", "role": "coordinator"},
                    {"name": "Youssef Amrani", "role": "chair"},
                ],
                "passed_over": [{"name": "Rachid Alaoui", "role": "IAWG member"}],
                "chased_as": "the focal point",
                "institution": _CUSTOMS,
                "request": {"id": 43, "kind_label": "activity inventory", "due_at": _DUE},
                "step": _STEP,
                "reminder": {
                    "rung": "escalation",
                    "overdue": True,
                    "working_days_overdue": 11,
                    "sent_at": _at(2025, 12, 22, 10, 2),
                    "focal_points": "Rachid Alaoui, Leila Chraibi",
                    "reminders_sent": 1,
                    "representatives": False,
                    "due_day": date(2026, 1, 19),
                },
                "link": None,
                "representing": None,
            },
            {
                "kind": "step_overdue",
                "step": {
                    **_STEP,
                    "due_at": _DUE,
                    "working_days_overdue": 2,
                    "blockers": ["Customs Directorate has not sent its self-assessment"],
                },
                "link": None,
                "representing": None,
            },
        ],
        "counts": {"reminder": 1, "escalation": 1, "step_overdue": 1},
        "reply_request": 42,
    },
    "request_reopened": {
        "recipient": {"name": "Samira El Idrissi", "email": "focal@customs.example"},
        "institution": _CUSTOMS,
        "request": {
            "id": 42,
            "kind": "self_assessment",
            "kind_label": "self-assessment",
            "instructions": "Please score your institution against each area of the grid.",
            "due_at": _DUE,
        },
        "step": _STEP,
        "link": _LINK,
        "decision": None,
        "representing": None,
        "reopened": {
            "reason": "The scores of the Procedures area were entered in the wrong row.",
            "answered_at": _at(2026, 1, 14, 11, 20),
        },
    },
    "deadline_extended": {
        "recipients_count": 2,
        "institution": _CUSTOMS,
        "request": {
            "id": 42,
            "kind_label": "self-assessment",
            "due_at": _at(2026, 1, 26, 23, 59),
            "previous_due_at": _DUE,
        },
        "step": _STEP,
    },
    "digest": {
        "recipient": {"name": "Amina Lahlou", "email": "manager@cabinet.example"},
        "week": "2027-W03",
        "at": _at(2027, 1, 18, 8, 0),
        "state_title": "Analysis of the current situation",
        "suspended": False,
        "horizon_days": 10,
        "figures": {"overdue_steps": 0, "overdue_requests": 1, "falling_due": 1},
        "overdue": [
            {
                "kind": "request",
                "step_title": "Analysis of the current situation",
                "request_label": "self-assessment",
                "institution_name": "Customs Directorate",
                "request_id": 42,
                "due": date(2027, 1, 11),
                "days_overdue": 4,
                "days_left": 0,
            }
        ],
        "falling_due": [
            {
                "kind": "step",
                "step_title": "Analysis of the current situation",
                "request_label": None,
                "institution_name": None,
                "request_id": None,
                "due": date(2027, 1, 29),
                "days_overdue": 0,
                "days_left": 9,
            }
        ],
        "responsiveness": [
            {
                "name": "Customs Directorate",
                "answered": 2,
                "on_time": 2,
                "due_passed": 3,
                "share": 2 / 3,
                "median": 2,
                "open_overdue": 1,
            }
        ],
    },
    "step_overdue": {
        "step": {
            **_STEP,
            "due_at": _DUE,
            "working_days_overdue": 1,
            "blockers": ["2 of 9 involved institutions have not answered the self-assessment"],
        },
    },
}


def kinds_without_sample() -> list[str]:
    """Message kinds that have no sample yet (the tests require none)."""
    return [kind for kind in MESSAGE_KINDS if kind not in _SAMPLES]


def sample_context(kind: str) -> dict[str, Any]:
    """A fresh copy of the sample context of a message kind (KeyError for an unknown kind)."""
    return {**copy.deepcopy(_BASE), **copy.deepcopy(_SAMPLES[kind])}
