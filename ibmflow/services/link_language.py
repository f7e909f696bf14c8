"""The language an answer page opens in: its addressee's.

The person the link was sent to reads their own language, else their institution's, else the
process's, else the deployment's (`settings.language`); a language the deployment does not offer is
passed over. The `language` of a person, an institution or a process is read where the roster
records it (a row without the column, or with none set, passes to the next).
"""

from __future__ import annotations

from ibmflow.services.context import Context
from ibmflow.services.requests import token_hash
from ibmflow.storage.queries import answers as queries
from ibmflow.storage.tables import InstitutionRow, PersonRow, ProcessRow, RequestRow


def answer_language(ctx: Context, token: str) -> str | None:
    """The language of the addressee of the link `token`, or None for a link that does not exist
    (the page then speaks the browser's language). A used, closed or expired link still has its
    addressee: the receipt after answering speaks their language."""
    if not token or len(token) > 200:
        return None
    settings = ctx.settings
    with ctx.db.reading() as session:
        link = queries.link_by_hash(session, token_hash(token))
        if link is None:
            return None
        request = session.get(RequestRow, link.request_id)
        person = session.get(PersonRow, link.person_id) if link.person_id else None
        institution_id = (person.institution_id if person else None) or (
            request.institution_id if request else None
        )
        institution = session.get(InstitutionRow, institution_id) if institution_id else None
        process = session.get(ProcessRow, request.process_id) if request else None
        for row in (person, institution, process):
            chosen = getattr(row, "language", None)
            if chosen and chosen in settings.languages:
                return str(chosen)
    return settings.language
