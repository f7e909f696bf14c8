"""The one table of commands on a process: each action the console's forms, the JSON API and the
command line offer, with its parameters (how a form names them and how text is read into them), the
permission it needs and the service it calls.

An edge turns its input into the arguments (a form with `from_form`; a JSON body or command-line
options as they are) and calls `run`; it decides nothing else. Adding an action is one entry in
`COMMANDS`, plus its form, route or options where it is shown. A parameter may be a file: the form
gives an `Upload` (`Param.upload`), the command line reads the file into one.

Long because: it is the table itself, one entry per action with its parameters; split by area, the
entries would be read in several files again, which is what this module ends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from ibmflow.errors import InvalidCommand
from ibmflow.i18n import N_, _
from ibmflow.services import (
    ballots,
    bulk,
    console,
    decisions,
    extensions,
    inbound,
    processes,
    records,
    remind,
    reopen,
    requests,
    roster,
)
from ibmflow.services.context import Context
from ibmflow.services.documents import Upload

Args = Mapping[str, Any]


class Form(Protocol):
    """A posted form, as the console reads it."""

    def field(self, name: str) -> str:
        """A text field ("" when absent)."""

    def fields(self, name: str) -> list[str]:
        """Every value of a repeated field (ticked boxes)."""

    def upload(self, name: str) -> Upload | None:
        """The file sent in a field (None when none was chosen)."""


def text(value: str, what: str) -> str:
    """A text, trimmed; an empty one is refused."""
    trimmed = value.strip()
    if not trimmed:
        raise InvalidCommand(_("%(what)s is required: fill it in.", what=what))
    return trimmed


def raw(value: str, what: str) -> str:
    """A text as typed (the service checks and cleans it)."""
    return value


def number(value: str, what: str) -> int:
    """A whole number."""
    value = value.strip()
    if not value.isdigit() or len(value) > 9:
        raise InvalidCommand(
            _("%(what)s must be a whole number, not %(value)r.", what=what, value=value)
        )
    return int(value)


def day(value: str, what: str) -> date:
    """A date, YYYY-MM-DD (what a date field sends)."""
    value = value.strip()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidCommand(
            _("%(what)s %(value)r is not a date; use the date field.", what=what, value=value)
        ) from None


def codes(values: list[str], what: str) -> list[str] | None:
    """Institution codes ticked on a form (None: every one in scope)."""
    return console.institutions_chosen(values)


def choice(expected: str) -> Callable[[str, str], bool]:
    """A yes/no given as one of two buttons: whether the one named `expected` was pressed."""

    def read(value: str, what: str) -> bool:
        return text(value, what) == expected

    return read


@dataclass(frozen=True)
class Param:
    """One argument of a command: the service's keyword (and the API body's field), how the form
    names it, how text is read into it, and its value when the form leaves it empty."""

    name: str
    what: str  # how a message names it: "the coordinator's name"
    read: Callable[[Any, str], object] = text  # (the form's text, `what`) -> the value
    required: bool = False  # an empty form field is read anyway (and refused by `read`)
    default: object = None
    form: str = ""  # the form's field when it is not `name`
    many: bool = False  # a repeated field: `read` gets every value
    upload: bool = False  # a file field: the value is its `Upload` (None when none was chosen)

    @property
    def field(self) -> str:
        return self.form or self.name


@dataclass(frozen=True)
class On:
    """What a command is about and for whom: the process, the object the path names (a request,
    a decision, a received mail), who acts, whether an administrator, and through which channel."""

    process: str
    actor: str
    object_id: int = 0
    administrator: bool = False
    via: str = "cli"


@dataclass(frozen=True)
class Command:
    """An action on a process: its name, the permission it needs, its parameters, the service it
    calls, and where it is offered (a console form's path, an API route, a command-line command)."""

    name: str
    permission: str
    call: Callable[[Context, On, Args], object]
    params: tuple[Param, ...] = ()
    path: str | None = None  # the console's form posts here; `done` is the notice it shows after
    done: str = ""
    api: str | None = None  # POST /api/processes/{key}/<api>
    cli: str | None = None  # `ibmflow <cli> PROCESS ...`

    @property
    def takes_files(self) -> bool:
        """Whether a parameter is a file (its form is sent as multipart)."""
        return any(param.upload for param in self.params)


def run(ctx: Context, name: str, on: On, args: Args) -> object:
    """Run command `name` with `args` (already read) for `on`; what the service returns."""
    return COMMANDS[name].call(ctx, on, args)


def from_form(command: Command, form: Form) -> dict[str, object]:
    """The command's arguments read from a posted form (InvalidCommand says which is wrong)."""
    args: dict[str, object] = {}
    for param in command.params:
        if param.upload:
            args[param.name] = form.upload(param.field)
        elif param.many:
            args[param.name] = param.read(form.fields(param.field), param.what)
        else:
            value = form.field(param.field)
            if value.strip() or param.required:
                args[param.name] = param.read(value, param.what)
            else:
                args[param.name] = param.default
    return args


# --- the commands ---------------------------------------------------------------------------------


def _move(trigger: str) -> Callable[[Context, On, Args], object]:
    def call(ctx: Context, on: On, args: Args) -> processes.Moved:
        return processes.fire(
            ctx,
            on.process,
            trigger,
            actor=on.actor,
            expected_version=args.get("expected_version"),
            target=args.get("step"),
            reason=args.get("reason"),
        )

    return call


def _close(status: str) -> Callable[[Context, On, Args], object]:
    def call(ctx: Context, on: On, args: Args) -> None:
        requests.close(
            ctx, on.process, on.object_id, status=status, reason=args["reason"], actor=on.actor
        )

    return call


def _extend(per_request: bool) -> Callable[[Context, On, Args], object]:
    def call(ctx: Context, on: On, args: Args) -> extensions.Extension:
        return extensions.extend_deadline(
            ctx,
            on.process,
            reason=args["reason"],
            actor=on.actor,
            request_id=on.object_id if per_request else None,
            days=args.get("days"),
            to=args.get("to"),
        )

    return call


def _assign(ctx: Context, on: On, args: Args) -> None:
    console.check_inbound(ctx, on.process, on.object_id, unmatched_ok=on.administrator)
    console.check_request(ctx, on.process, args["request"])
    inbound.assign(ctx, on.object_id, args["request"], on.actor)


def _reject(ctx: Context, on: On, args: Args) -> None:
    console.check_inbound(ctx, on.process, on.object_id, unmatched_ok=on.administrator)
    inbound.reject(ctx, on.object_id, args["reason"], on.actor)


def _with(
    service: Callable[..., object], *, of_object: bool = False
) -> Callable[[Context, On, Args], object]:
    """A service called as `service(ctx, process, **args, actor=...)`, or with the object the path
    names after the process when `of_object`."""

    def call(ctx: Context, on: On, args: Args) -> object:
        leading = [on.object_id] if of_object else []
        return service(ctx, on.process, *leading, **args, actor=on.actor)

    return call


def _attach(ctx: Context, on: On, args: Args) -> int:
    return records.attach_document(
        ctx, on.process, args["upload"], kind=args["kind"], actor=on.actor
    )


def _vote(ctx: Context, on: On, args: Args) -> ballots.VoteResult:
    return decisions.vote(ctx, on.process, on.object_id, **args, actor=on.actor, via=on.via)


def _add_person(ctx: Context, on: On, args: Args) -> roster.RosterImported:
    roles = args.get("roles") or []
    return roster.add_person(
        ctx,
        on.process,
        name=args["name"],
        email=args["email"],
        institution=args.get("institution"),
        roles=[roles] if isinstance(roles, str) else list(roles),
        deputy_for=args.get("deputy_for"),
        actor=on.actor,
    )


_VERSION = Param("expected_version", "the version", number, required=True, form="version")
_REASON = Param("reason", "the reason", raw, default="")
_WHY = N_("Give a reason: it is kept on the audit log.")


def _given_reason(value: str, what: str) -> str:
    if not value.strip():
        raise InvalidCommand(_(_WHY))
    return value.strip()


_MOVE_REASON = Param("reason", "the reason", _given_reason, required=True)


def _remind(ctx: Context, on: On, args: Args) -> remind.Reminded:
    return remind.remind_now(ctx, on.process, on.object_id, on.actor, args.get("reason"))


def _request_ids(values: list[str], what: str) -> list[int]:
    """The requests ticked on a form (their numbers)."""
    return [number(value, what) for value in values if value.strip()]


_TABLE = (
    Command(
        "advance",
        "move",
        _move("complete"),
        (Param("reason", "the reason"), _VERSION),
        path="/p/{key}/advance",
        done="complete",
        api="advance",
        cli="advance",
    ),
    Command(
        "return",
        "move",
        _move("return_to"),
        (_MOVE_REASON, _VERSION, Param("step", "the step")),
        path="/p/{key}/return",
        done="return_to",
        api="return",
        cli="return",
    ),
    Command(
        "suspend",
        "move",
        _move("suspend"),
        (_MOVE_REASON, _VERSION),
        path="/p/{key}/suspend",
        done="suspend",
        api="suspend",
        cli="suspend",
    ),
    Command(
        "resume",
        "move",
        _move("resume"),
        (_MOVE_REASON, _VERSION),
        path="/p/{key}/resume",
        done="resume",
        api="resume",
        cli="resume",
    ),
    Command(
        "request.send",
        "request",
        _with(requests.send_requests),
        (
            Param("kind", "the kind of request", required=True),
            Param("institutions", "the institutions", codes, form="institution", many=True),
            Param("scope", "the scope", raw, default="involved"),
            Param("due_days", "the working days to answer", number, default=10),
            Param("instructions", "the instructions", default=""),
        ),
        path="/p/{key}/requests",
        done="requests",
        api="requests",
        cli="request send",
    ),
    Command(
        "request.waive",
        "request",
        _close("waived"),
        (_REASON,),
        path="/p/{key}/requests/{rid}/waive",
        done="waived",
        cli="request waive",
    ),
    Command(
        "request.withdraw",
        "request",
        _close("withdrawn"),
        (_REASON,),
        path="/p/{key}/requests/{rid}/withdraw",
        done="withdrawn",
        cli="request withdraw",
    ),
    Command(
        "request.reopen",
        "request",
        _with(reopen.reopen, of_object=True),
        (_REASON,),
        path="/p/{key}/requests/{rid}/reopen",
        done="reopened",
        cli="request reopen",
    ),
    Command(
        "decision.open",
        "decide",
        _with(decisions.open_decision),
        (
            Param("subject", "the subject", required=True),
            Param("title", "the title"),
            Param("document_id", "the document", number, form="document"),
        ),
        path="/p/{key}/decisions",
        done="decision",
        cli="decision open",
    ),
    Command(
        "vote",
        "vote",
        _vote,
        (
            Param("approve", "approve or object", choice("approve"), required=True, form="choice"),
            Param("institution", "the institution", required=True),
            Param("voter", "the voter's email", required=True),
            Param("reason", "the reason"),
        ),
        path="/p/{key}/decisions/{did}/votes",
        done="vote",
    ),
    Command(
        "nominate",
        "nominate",
        _with(decisions.nominate),
        (
            Param("member", "the member's email", required=True),
            Param("representative", "the representative's email", required=True),
            Param("decision_id", "the decision", number, form="decision"),
            Param("valid_from", "from", day),
            Param("valid_until", "until", day),
        ),
        path="/p/{key}/nominations",
        done="nomination",
        cli="nominate",
    ),
    Command(
        "appoint",
        "appoint",
        _with(records.appoint_coordinator),
        (
            Param("name", "the coordinator's name", required=True),
            Param("email", "the coordinator's email", required=True),
            Param("authority", "the appointing authority", raw, default=""),
            Param("reference", "the decision's reference", raw, default=""),
            Param("appointed_on", "the date of appointment", day, required=True),
        ),
        path="/p/{key}/appointment",
        done="appointment",
        cli="appoint",
    ),
    Command(
        "person.add",
        "roster",
        _add_person,
        (
            Param("name", "the name", required=True),
            Param("email", "the email", required=True),
            Param("institution", "the institution"),
            Param("roles", "the role", required=True, form="role"),
        ),
        path="/p/{key}/people",
        done="person",
        cli="person add",
    ),
    Command(
        "taskforce.add",
        "record",
        _with(records.add_task_force),
        (Param("name", "the task force's name", required=True), Param("lead", "the lead")),
        path="/p/{key}/task-forces",
        done="task_force",
        cli="taskforce add",
    ),
    Command(
        "chapter.add",
        "record",
        _with(records.add_chapter),
        (Param("title", "the chapter's title", required=True), Param("lead", "the lead")),
        path="/p/{key}/chapters",
        done="chapter",
        cli="chapter add",
    ),
    Command(
        "chapter.lead",
        "record",
        _with(records.set_chapter_lead),
        (
            Param("title", "the chapter", required=True),
            Param("lead", "the lead", required=True),
        ),
        path="/p/{key}/chapters/lead",
        done="chapter_lead",
        cli="chapter lead",
    ),
    Command(
        "document.attach",
        "document",
        _attach,
        (
            Param("upload", "the file", upload=True, form="file"),
            Param("kind", "the kind of document", required=True),
        ),
        path="/p/{key}/documents",
        done="document",
        cli="attach",
    ),
    Command(
        "chapter.submit",
        "record",
        _with(records.submit_chapter),
        (
            Param("title", "the chapter", required=True),
            Param("upload", "the file", upload=True, form="file"),
        ),
        path="/p/{key}/chapters/draft",
        done="chapter_draft",
        cli="chapter submit",
    ),
    Command(
        "consultation.close",
        "record",
        _with(records.close_consultation),
        (_REASON,),
        path="/p/{key}/consultation/close",
        done="consultation",
        cli="consultation close",
    ),
    Command(
        "adopt",
        "record",
        _with(records.record_adoption),
        (
            Param("authority", "the adopting authority", raw, default=""),
            Param("reference", "the adoption decision's reference", raw, default=""),
            Param("adopted_on", "the date of adoption", day, required=True),
        ),
        path="/p/{key}/adoption",
        done="adoption",
        cli="adopt",
    ),
    Command(
        "extend",
        "extend",
        _extend(per_request=False),
        (
            _REASON,
            Param("days", "the working days", number),
            Param("to", "the new due day", day),
        ),
        path="/p/{key}/extend",
        done="extended",
    ),
    Command(
        "request.extend",
        "extend",
        _extend(per_request=True),
        (
            _REASON,
            Param("days", "the working days", number),
            Param("to", "the new due day", day),
        ),
        path="/p/{key}/requests/{rid}/extend",
        done="extended",
    ),
    Command(
        "quarantine.assign",
        "quarantine",
        _assign,
        (Param("request", "the request", number, required=True),),
        path="/p/{key}/quarantine/{iid}/assign",
        done="assigned",
    ),
    Command(
        "quarantine.reject",
        "quarantine",
        _reject,
        (_REASON,),
        path="/p/{key}/quarantine/{iid}/reject",
        done="rejected",
    ),
    Command(
        "request.remind",
        "request",
        _remind,
        (_REASON,),
        path="/p/{key}/requests/{rid}/remind",
        done="reminded",
        cli="request remind",
    ),
    Command(
        "requests.bulk",
        "request",
        _with(bulk.apply),
        (
            Param("request_ids", "the requests", _request_ids, form="rid", many=True),
            Param("action", "the action", bulk.check_action, required=True),
            _MOVE_REASON,
            Param("days", "the working days", number),
        ),
        path="/p/{key}/requests/bulk",
        done="bulk",
        cli="request bulk",
    ),
)
COMMANDS: dict[str, Command] = {command.name: command for command in _TABLE}
