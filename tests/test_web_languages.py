"""The console in every language, through a real server: each page asked for in French (by
`Accept-Language`) is in French with `<html lang="fr">`; each page in the pseudo-locale (`en_XA`,
offered by a test deployment) leaves no English sentence outside the catalogs; the language switch
in the header (`?lang=`, remembered in a cookie); the API's error messages in the caller's language.

What the pages show from the data (process and step titles from the workflow file, institutions,
people, the guards' sentences and the remedies' labels, request kinds, mail bodies, audit reasons)
is not the console's to translate: it is passed to `unmarked_english` as data. The guards' sentences,
remedies and request kinds become translatable with the domain's catalogs (helper i18n-domain), the
step titles with the bilingual workflow file (i18n-defs)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from i18n_check import unmarked_english
from webconsole import (
    EMAILS,
    MINE,
    THEIRS,
    Site,
    _objects,
    add_accounts,
    csrf_of,
    log_in,
    start_process,
)

from ibmflow import catalogs
from ibmflow.access import ADMINISTRATOR, Account
from ibmflow.charts import _short
from ibmflow.demo import COORDINATOR as COORDINATOR_EMAIL
from ibmflow.errors import IbmflowError, TransitionRefused
from ibmflow.services import accounts, process_list, processes, remind, requests
from ibmflow.services import console as reads
from ibmflow.services.attention import desk
from ibmflow.services.audit_views import AuditAsked, audit_page
from ibmflow.services.context import Context
from ibmflow.services.outgoing import get_mail, list_mail
from ibmflow.services.reports import deadline_report
from ibmflow.services.search import search

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

NEW = "MA-2"  # just started: at its first step, the coordinator not yet appointed
LANGUAGES = ("en", "fr", "en_XA")


@pytest.fixture
def polyglot(ctx: Context, tmp_path: Path, start: Callable[[Context], str]) -> Iterator[Site]:
    """The console of a deployment offering English, French and the pseudo-locale: MA-1 at
    stakeholder identification with an object of each kind, TN-1 suspended, MA-2 just started."""
    ctx.settings = dataclasses.replace(ctx.settings, languages=LANGUAGES)
    url = start(ctx)
    for key in (MINE, THEIRS):
        start_process(ctx, key, tmp_path)
    objects = {key: _objects(ctx, key) for key in (MINE, THEIRS)}
    processes.start_process(ctx, title="National IBM strategy MA-2", key=NEW, actor="setup")
    processes.fire(ctx, THEIRS, "suspend", actor=COORDINATOR_EMAIL, reason="elections")
    add_accounts(ctx)
    built = Site(url=url, ctx=ctx, objects=objects)
    yield built
    for client in built.clients:
        client.close()


def _admin(site: Site, **headers: str) -> httpx.Client:
    """A client logged in as the administrator (who sees every process and the quarantine)."""
    client = site.client()
    client.headers.update(headers)
    response = log_in(client, EMAILS[ADMINISTRATOR])
    assert response.status_code == 303, response.text
    return client


def _pages(site: Site) -> dict[str, str]:
    """Every console page worth reading, by name: its path."""
    mail = site.objects[MINE]["mail"]
    return {
        "process list": "/processes",
        "process at stakeholder identification": f"/p/{MINE}",
        "process at its first step": f"/p/{NEW}",
        "suspended process": f"/p/{THEIRS}",
        "process after an action": f"/p/{MINE}?done=requests",
        "requests filtered": f"/p/{MINE}?status=open&kind=acknowledge_contact",
        "requests finished": f"/p/{MINE}?status=answered",
        "a bad filter": f"/p/{MINE}?status=late",
        "report": "/report",
        "audit": f"/p/{MINE}/audit",
        "audit past the end": f"/p/{MINE}/audit?page=9",
        "audit filtered": f"/p/{MINE}/audit?action=request.sent&entity=request&from=2026-01-01"
        "&to=2026-12-31&deliveries=1",
        "audit with a bad filter": f"/p/{MINE}/audit?from=yesterday",
        "mail list": f"/p/{MINE}/mail",
        "a mail": f"/p/{MINE}/mail/{mail}",
        "a bad page number": "/processes?page=x",
        "a process not there": "/p/XX-9",
        "a page not there": "/no/such/page",
        "a page a visit cannot open": "/logout",
        "remind now": f"/p/{MINE}/requests/{site.objects[MINE]['request']}/remind",
        "desk": "/attention",
        "search": "/search?q=ma",
        "search by number": f"/search?q=%23{site.objects[MINE]['request']}",
        "empty search": "/search",
        "search found nothing": "/search?q=zzz",
    }


def _refusals(site: Site, client: httpx.Client) -> dict[str, httpx.Response]:
    """The pages of refused forms: a move the blockers refuse, a form without its CSRF token, a
    request waived without a reason, a bad horizon."""
    csrf = csrf_of(client.get("/processes"))
    version = str(processes.read_version(site.ctx, MINE))
    rid = site.objects[MINE]["request"]
    return {
        "move refused": client.post(
            f"/p/{MINE}/advance",
            data={"csrf_token": csrf, "version": version},
            follow_redirects=True,
        ),
        "no csrf token": client.post(f"/p/{MINE}/advance", data={"version": version}),
        "waive without a reason": client.post(
            f"/p/{MINE}/requests/{rid}/waive",
            data={"csrf_token": csrf, "reason": ""},
            follow_redirects=True,
        ),
        "bad horizon": client.get("/report?horizon=x"),
        "bulk without a reason": client.post(
            f"/p/{MINE}/requests/bulk",
            data={"csrf_token": csrf, "rid": [str(rid)], "action": "waive", "reason": ""},
            follow_redirects=True,
        ),
    }


def _strings(value: Any, out: set[str]) -> set[str]:
    """Every string held by a read model (dataclasses, rows, dicts, sequences)."""
    if isinstance(value, str):
        out.add(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            _strings(getattr(value, item.name), out)
    elif isinstance(value, dict):
        for key, item in value.items():
            _strings(key, out)
            _strings(item, out)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _strings(item, out)
    elif hasattr(value, "__dict__") and not callable(value):
        for key, item in vars(value).items():
            if not key.startswith("_"):
                _strings(item, out)
    return out


def _data(site: Site) -> list[str]:
    """What the pages show from the data, not from the console's sentences: everything the read
    models hold but codes (`sent`, `acknowledge_contact`: those the console translates itself),
    and the audit's and the outbox's codes, shown as codes."""
    ctx = site.ctx
    found: set[str] = set()
    for key in (MINE, THEIRS, NEW):
        _strings(reads.process_page(ctx, key), found)
    _strings(deadline_report(ctx), found)
    mails = list_mail(ctx, MINE, None)
    _strings(mails, found)
    _strings(get_mail(ctx, site.objects[MINE]["mail"], MINE), found)
    _strings(accounts.list_users(ctx), found)
    everyone = Account(0, EMAILS[ADMINISTRATOR], "", ADMINISTRATOR, processes=None)
    _strings(process_list.visible_processes(ctx, everyone), found)
    _strings(desk(ctx, everyone), found)
    for query in ("ma", f"#{site.objects[MINE]['request']}"):
        _strings(search(ctx, everyone, query), found)
    found |= {_short(s.title) for p in deadline_report(ctx).processes for s in p.steps}
    body = get_mail(ctx, site.objects[MINE]["mail"], MINE).text_body
    found |= {line.strip() for line in body.splitlines()}
    found |= _domain_refusals(site)
    # The reminder previewed is in its reader's language (English here): data on the page.
    shown = remind.preview(ctx, MINE, site.objects[MINE]["request"], COORDINATOR_EMAIL)
    found |= {shown.institution, *(m.subject for m in shown.mails)}
    found |= {line.strip() for m in shown.mails for line in m.text.splitlines()}
    codes = {s for s in found if re.fullmatch(r"[a-z0-9_.:-]+", s)}
    # the audit page shows who acted and why as recorded, and names what an event is about by
    # its identifier (an address, a chapter's title); the rest of each line is translated
    lines = audit_page(ctx, MINE, AuditAsked(deliveries=True), 0, 100).lines
    shown_codes = {
        str(value or "")
        for e in lines
        for value in (e.actor, e.on_behalf_of, e.reason, (e.entity or "").partition(":")[2])
    }
    return sorted((found - codes) | shown_codes | {m.kind for m in mails})


def _domain_refusals(site: Site) -> set[str]:
    """What the use cases say when they refuse (made translatable by i18n-domain, data here): the
    refusals of `_refusals` and of a process not there."""
    said: set[str] = set()
    attempts: list[Callable[[], object]] = [
        lambda: processes.status(site.ctx, "XX-9"),
        lambda: processes.fire(site.ctx, MINE, "complete", actor=COORDINATOR_EMAIL),
        lambda: requests.close(
            site.ctx,
            MINE,
            site.objects[MINE]["request"],
            status="waived",
            reason="",
            actor=COORDINATOR_EMAIL,
        ),
    ]
    for attempt in attempts:
        try:
            attempt()
        except IbmflowError as exc:
            said.add(exc.message)
            if isinstance(exc, TransitionRefused):
                said |= set(exc.blockers)
        else:
            raise AssertionError("the use case was expected to refuse")
    return said


def _html_lang(html: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', html)
    assert match, "no <html lang>"
    return match.group(1)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\u00a0", " ")


FRENCH = {
    "process list": [
        "Les processus que vous suivez : l’étape en cours, son échéance et ce qui est en retard.",
        "Seulement en retard",
    ],
    "process at stakeholder identification": [
        "Ce qui bloque cette étape",
        "Demandes aux points focaux",
        "Quarantaine des réponses non rattachées",
        "Achever cette étape",
    ],
    "process at its first step": ["Ce qui bloque cette étape", "Aucune demande pour l’instant."],
    "suspended process": ["Le processus est suspendu (à l’étape"],
    "process after an action": ["Les demandes ont été envoyées"],
    "requests filtered": ["Demandes en cours, les plus en retard d’abord", "Afficher toutes les"],
    "requests finished": ["Aucune demande ne correspond à ces filtres."],
    "a bad filter": ["Cette liste de demandes ne peut pas être affichée", "Choisissez les filtres"],
    "report": ["Rapport des échéances", "Comment chaque institution répond"],
    "audit": ["Historique d’audit de MA-1", "La chaîne d’audit est intacte :"],
    "audit past the end": ["est au-delà de la dernière page"],
    "audit filtered": ["Les plus récents d’abord ; heures en heure du Maroc.", "envoyée à"],
    "audit with a bad filter": ["Ces filtres ne peuvent pas être utilisés", "n’est pas une date"],
    "mail list": ["Courrier sortant de MA-1", "Aucun serveur SMTP n’est configuré"],
    "a mail": ["Retour au courrier sortant", "Destinataire"],
    "a bad page number": ["Ce numéro de page ne peut pas être utilisé"],
    "a process not there": ["Processus introuvable"],
    "a page not there": ["Page introuvable", "Il n’y a pas de page à cette adresse."],
    "a page a visit cannot open": ["Cette page ne s’ouvre pas ainsi"],
    "move refused": ["Rien n’a été modifié."],
    "no csrf token": ["Ce formulaire ne peut pas être accepté", "Rien n’a été modifié"],
    "waive without a reason": ["Rien n’a été modifié."],
    "bad horizon": ["Cet horizon ne peut pas être utilisé", "Indiquez un nombre entier"],
    "remind now": [
        "Relancer maintenant la demande n°",
        "Voici le courriel qui sera envoyé",
        "Envoyer le rappel maintenant",
        "Annuler",
    ],
    "bulk without a reason": ["Rien n’a été modifié.", "Indiquez un motif"],
    "desk": [
        "pour tous les processus que vous suivez",
        "Réponses en quarantaine",
        "Décisions en cours",
        "À traiter (",
    ],
    "search": ["Recherche : ma", "Personnes", "Rechercher dans les processus que vous suivez"],
    "search by number": ["Demande par numéro", "Demande n° "],
    "empty search": ["Saisissez ce que vous cherchez dans la zone ci-dessus."],
    "search found nothing": ["Rien n’a été trouvé pour « zzz »"],
}


@sqlite_only
def test_every_console_page_is_in_french_for_a_french_browser(polyglot: Site) -> None:
    client = polyglot.client()
    client.headers["Accept-Language"] = "fr-FR,fr;q=0.9,en;q=0.5"
    login = client.get("/login")
    assert _html_lang(login.text) == "fr"
    assert "Se connecter à ibmflow" in login.text and "Mot de passe" in login.text
    assert "Les points focaux n’ont pas besoin de compte" in _text(login.text)
    wrong = client.post(
        "/login",
        data={"csrf_token": csrf_of(login), "email": EMAILS[ADMINISTRATOR], "password": "no"},
    )
    assert wrong.status_code == 401
    assert "L’adresse électronique ou le mot de passe est erroné" in _text(wrong.text)
    assert log_in(client, EMAILS[ADMINISTRATOR]).status_code == 303
    answers = {name: client.get(path) for name, path in _pages(polyglot).items()}
    answers.update(_refusals(polyglot, client))
    for name, page in answers.items():
        assert _html_lang(page.text) == "fr", name
        text = _text(page.text)
        for sentence in FRENCH[name]:
            assert sentence in text, f"{name} ({page.status_code}): no {sentence!r}"
        if page.status_code == 200:
            assert "Se déconnecter" in text, name
    assert answers["move refused"].status_code == 200  # back at the page, the refusal on top
    assert answers["no csrf token"].status_code == 403
    assert answers["a process not there"].status_code == 404
    # dates and figures as French writes them, the zone named
    process = _text(answers["process at stakeholder identification"].text)
    assert "dates en heure du Maroc" in process
    assert re.search(r"commencée le \d{1,2} [a-zéû]+\.? 20\d\d", process), process[:2000]
    report = _text(answers["report"].text)
    assert "Diagramme de Gantt des étapes de MA-1" in answers["report"].text
    assert re.search(r"aujourd’hui \d{1,2} [a-zéû]+\.? 20\d\d, heure du Maroc", report)


@sqlite_only
def test_no_english_is_left_unmarked_in_the_pseudo_locale(polyglot: Site) -> None:
    client = polyglot.client()
    login = client.get("/login?lang=en_XA")
    assert _html_lang(login.text) == "en-XA"
    data = _data(polyglot)
    assert unmarked_english(login.text, data) == []
    assert log_in(client, EMAILS[ADMINISTRATOR]).status_code == 303
    answers = {name: client.get(path) for name, path in _pages(polyglot).items()}
    answers.update(_refusals(polyglot, client))
    left = {name: unmarked_english(page.text, data) for name, page in answers.items()}
    unmarked = {name: words for name, words in left.items() if words}
    assert unmarked == {}, f"English left unmarked: {unmarked}"
    assert {_html_lang(page.text) for page in answers.values()} == {"en-XA"}
    assert all(catalogs.OPEN in page.text for page in answers.values()), "not in the pseudo-locale"


@sqlite_only
def test_the_language_switch_sets_the_language_and_the_cookie_keeps_it(polyglot: Site) -> None:
    client = polyglot.client()
    english = client.get("/login")
    assert _html_lang(english.text) == "en"
    assert '<a href="/login?lang=fr" lang="fr" hreflang="fr">Français</a>' in english.text
    assert 'hreflang="en" aria-current="true">English</a>' in english.text
    french = client.get("/login?lang=fr")
    assert "ibmflow_lang=fr" in french.headers["set-cookie"]
    assert _html_lang(french.text) == "fr"
    assert 'hreflang="fr" aria-current="true">Français</a>' in french.text
    again = client.get("/login")  # no ?lang=: the cookie keeps French
    assert _html_lang(again.text) == "fr" and "Se connecter à ibmflow" in again.text
    assert log_in(client, EMAILS[ADMINISTRATOR]).status_code == 303
    page = client.get(f"/p/{MINE}?done=vote")
    assert _html_lang(page.text) == "fr" and "Le vote est enregistré." in page.text
    # logged in, the switch posts (CSRF) and leads back to the same page, its query kept
    assert f'<input type="hidden" name="next" value="/p/{MINE}?done=vote">' in page.text
    switched = client.post(
        "/language",
        data={"csrf_token": csrf_of(page), "lang": "en", "next": f"/p/{MINE}?done=vote"},
    )
    assert switched.headers["location"] == f"/p/{MINE}?done=vote&lang=en"
    back = client.get(switched.headers["location"])
    assert _html_lang(back.text) == "en" and "The vote is recorded." in back.text
    assert _html_lang(client.get("/processes").text) == "en"


@sqlite_only
def test_the_api_explains_its_errors_in_the_callers_language(polyglot: Site) -> None:
    token = accounts.issue_token(polyglot.ctx, EMAILS[ADMINISTRATOR], actor="test")
    client = polyglot.client()
    client.headers["Accept-Language"] = "fr"
    anonymous = client.get("/api/processes")
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "unauthenticated"
    assert "Envoyez un jeton d’API valide" in anonymous.json()["message"]
    client.headers["Authorization"] = f"Bearer {token}"
    nothing = client.get("/api/nothing-here")
    assert nothing.status_code == 404 and nothing.json()["error"] == "not_found"
    assert nothing.json()["message"].startswith("Cet appel d’API n’existe pas")
    malformed = client.post(f"/api/processes/{MINE}/advance", json={"expected_version": "x"})
    assert malformed.status_code == 422 and malformed.json()["error"] == "invalid"
    assert malformed.json()["message"].startswith("La requête est mal formée, rien n’a été fait")
    client.headers["Accept-Language"] = "en"
    english = client.get("/api/nothing-here")
    assert english.json()["message"].startswith("There is no such API call")
