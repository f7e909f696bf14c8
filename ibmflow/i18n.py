"""The languages ibmflow speaks: gettext catalogs (Babel), the reader's language, and dates, times and
numbers formatted for the reader's locale and the process's time zone.

Every user-facing sentence goes through `_` (or `ngettext` for a count), in Python and in templates
(Jinja2's `i18n` extension, installed by `install`). The language is the reader's: a context variable
set per web request (`using`), per mail rendered, per recipient. Outside any `using` block (the command
line, the audit log) it is English, the language of the source strings.

The catalogs live beside this module, `locale/<language>/LC_MESSAGES/ibmflow.po`, extracted from the
code by `pybabel extract` into `locale/ibmflow.pot` (see the README). A catalog is compiled when first
loaded (the `.mo` built by `pybabel compile` is used when it is newer than its `.po`): what ships is
only the text a translator writes. A module-level label is marked with `N_` and translated where it
is shown, in the reader's language.

`en_XA` is a pseudo-locale generated from the `.pot` (`python -m ibmflow.locale.pseudo`): every
message accented and bracketed, so a page rendered in it shows any sentence not marked for translation
as plain English. It is formatted like English and offered only when the settings list it.
"""

from __future__ import annotations

import gettext as _gettext
import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import pass_context
from markupsafe import Markup

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "ibmflow"
SOURCE = "en"  # the language the source strings are written in
PSEUDO = "en_XA"
LANGUAGES = ("en", "fr")  # what a deployment offers by default; the pseudo-locale is for tests


def _catalogued() -> dict[str, str]:
    """Every language ibmflow can speak: English, and each with a catalog in `locale/` (a third
    language costs only its catalog), with the name it gives itself in a language switch."""
    names = {SOURCE: "English"}
    for po in sorted(LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        lang = po.parent.parent.name
        if lang == PSEUDO:
            names[lang] = "Ƥšéûðö"
            continue
        try:
            own = Locale.parse(lang).get_display_name(lang) or lang
        except (ValueError, LookupError):
            continue
        names[lang] = own[:1].upper() + own[1:]
    return names


NAMES = _catalogued()

_current: ContextVar[str] = ContextVar("ibmflow_language", default=SOURCE)


def N_(message: str) -> str:
    """Mark `message` for extraction without translating it: it is translated where it is shown."""
    return message


def language() -> str:
    """The reader's language in this context (English outside any `using` block)."""
    return _current.get()


@contextmanager
def using(lang: str | None) -> Iterator[str]:
    """Speak `lang` (the source language when None or unknown) inside the block."""
    chosen = lang if lang in NAMES else SOURCE
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)


@cache
def translations(lang: str) -> _gettext.NullTranslations:
    """The compiled catalog of `lang` (loaded once per process); none for the source language."""
    if lang == SOURCE or lang not in NAMES:
        return _gettext.NullTranslations()
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    po, mo = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    if mo.is_file() and (not po.is_file() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as handle:
            return Translations(handle, domain=DOMAIN)
    if not po.is_file():
        return _gettext.NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale="en" if lang == PSEUDO else lang, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def gettext(message: str, **params: Any) -> str:
    """`message` in the reader's language, with `%(name)s` placeholders filled from `params`."""
    text = translations(_current.get()).gettext(message)
    return _filled(text, message, params) if params else text


def _filled(text: str, source: str, params: dict[str, Any]) -> str:
    """`text` with its placeholders filled; a translation whose placeholders do not match the
    English (a translator's slip) falls back to the English sentence rather than failing."""
    try:
        return text % params
    except (KeyError, ValueError, TypeError):
        return source % params


def ngettext(singular: str, plural: str, n: int, **params: Any) -> str:
    """The form of a counted message for `n` in the reader's language; `%(num)s` is `n`, localised."""
    text = translations(_current.get()).ngettext(singular, plural, n)
    return _filled(text, singular if n == 1 else plural, {"num": format_number(n), **params})


def pgettext(context: str, message: str, **params: Any) -> str:
    """`message` in the reader's language, told apart from the same English words by `context`."""
    text = translations(_current.get()).pgettext(context, message)
    return _filled(text, message, params) if params else text


_ = gettext


def npgettext(context: str, singular: str, plural: str, n: int, **params: Any) -> str:
    """`ngettext` with a context."""
    text = translations(_current.get()).npgettext(context, singular, plural, n)
    return _filled(text, singular if n == 1 else plural, {"num": format_number(n), **params})


def best_match(accept_language: str | None, offered: Sequence[str] = LANGUAGES) -> str | None:
    """The offered language an `Accept-Language` header prefers most, or None."""
    if not accept_language:
        return None
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")[:20]):
        tag, _sep, rest = part.strip().partition(";")
        quality = 1.0
        if rest.strip().startswith("q="):
            try:
                quality = float(rest.strip()[2:])
            except ValueError:
                continue
        weighted.append((-quality, position, tag.strip().replace("-", "_").lower()))
    for _quality, _position, tag in sorted(weighted):
        for lang in offered:
            if tag == lang.lower() or tag.split("_")[0] == lang.lower():
                return lang
    return None


# -- formatting, in the reader's locale ------------------------------------------------------------


def _babel_locale_name(lang: str) -> str:
    """English is written as in Europe and Africa ("Friday 20 November 2026, 23:59"): en_GB."""
    return "en_GB" if lang in (SOURCE, PSEUDO) or lang not in NAMES else lang


def locale() -> Locale:
    """The Babel locale that formats for the reader."""
    return _parsed_locale(_babel_locale_name(_current.get()))


@cache
def _parsed_locale(name: str) -> Locale:
    """A Babel locale parsed once per process (every date and number of every mail asks)."""
    return Locale.parse(name)


def html_lang() -> str:
    """The reader's language as an HTML `lang` attribute (BCP 47: `en-XA`)."""
    return _current.get().replace("_", "-")


# Zones named as people say them. CLDR names a zone by its city or its offset ("heure : Maroc",
# "Western European Time"); the catalog says "heure du Maroc" with the right article per country.
ZONE_NAMES = {
    "Africa/Abidjan": N_("Côte d'Ivoire time"),
    "Africa/Algiers": N_("Algeria time"),
    "Africa/Bamako": N_("Mali time"),
    "Africa/Banjul": N_("Gambia time"),
    "Africa/Bissau": N_("Guinea-Bissau time"),
    "Africa/Casablanca": N_("Morocco time"),
    "Africa/Conakry": N_("Guinea time"),
    "Africa/Dakar": N_("Senegal time"),
    "Africa/Douala": N_("Cameroon time"),
    "Africa/Freetown": N_("Sierra Leone time"),
    "Africa/Lagos": N_("Nigeria time"),
    "Africa/Libreville": N_("Gabon time"),
    "Africa/Lome": N_("Togo time"),
    "Africa/Monrovia": N_("Liberia time"),
    "Africa/Niamey": N_("Niger time"),
    "Africa/Nouakchott": N_("Mauritania time"),
    "Africa/Ouagadougou": N_("Burkina Faso time"),
    "Africa/Porto-Novo": N_("Benin time"),
    "Africa/Tunis": N_("Tunisia time"),
    "Africa/Tripoli": N_("Libya time"),
    "Africa/Cairo": N_("Egypt time"),
    "Africa/Accra": N_("Ghana time"),
    "Africa/Malabo": N_("Equatorial Guinea time"),
    "Africa/Brazzaville": N_("Congo time"),
    "Africa/Kinshasa": N_("Kinshasa time"),
    "Africa/Ndjamena": N_("Chad time"),
    "Atlantic/Cape_Verde": N_("Cabo Verde time"),
    "Europe/Brussels": N_("Brussels time"),
    "Europe/Madrid": N_("Spain time"),
    "Europe/Paris": N_("France time"),
    "Europe/Rome": N_("Italy time"),
    "Europe/Lisbon": N_("Portugal time"),
    "Europe/Berlin": N_("Germany time"),
    "Europe/London": N_("United Kingdom time"),
    "UTC": N_("UTC"),
    "Etc/UTC": N_("UTC"),
}


def zone_name(zone: str) -> str:
    """A time zone as the reader says it: "Morocco time", "heure du Maroc"; else CLDR's name."""
    if zone in ZONE_NAMES:
        return gettext(ZONE_NAMES[zone])
    try:
        return babel_dates.get_timezone_location(ZoneInfo(zone), locale=locale())
    except (LookupError, ValueError):
        return zone


def _aware(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone))


def format_datetime(moment: datetime | None, zone: str) -> str:
    """A moment in `zone`, in full, with the zone named: "Friday 20 November 2026, 23:59 Morocco
    time" / "vendredi 20 novembre 2026 à 23:59, heure du Maroc"."""
    if moment is None:
        return gettext("no set date")
    local = _aware(moment, zone)
    return gettext(
        "%(weekday)s %(date)s, %(time)s %(zone)s",
        weekday=weekday(local.date()),
        date=babel_dates.format_date(local.date(), format="long", locale=locale()),
        time=babel_dates.format_time(local.time(), format="short", locale=locale()),
        zone=zone_name(zone),
    )


def format_date(day: date | datetime | None, zone: str | None = None, form: str = "long") -> str:
    """A day: "20 November 2026" / "20 novembre 2026" (`form`: short, medium, long or full); a
    moment is first taken into `zone`."""
    if day is None:
        return gettext("no set date")
    if isinstance(day, datetime):
        day = _aware(day, zone or "UTC").date()
    return babel_dates.format_date(day, format=form, locale=locale())


def format_short_datetime(moment: datetime | None, zone: str) -> str:
    """A moment in `zone`, briefly, for tables: "20 Nov 2026, 23:59"."""
    if moment is None:
        return "—"
    local = _aware(moment, zone)
    return babel_dates.format_datetime(local, format="medium", locale=locale()).rsplit(":", 1)[0]


def weekday(day: date) -> str:
    """The weekday's name: "Friday" / "vendredi"."""
    return babel_dates.format_date(day, format="EEEE", locale=locale())


def format_number(value: float | int | Decimal) -> str:
    """A number as the reader writes it: "1,234.5" / "1 234,5"."""
    if type(value) is int:  # the counts of every sentence and mail: remembered, not formatted
        return _integer(value, locale())
    return babel_numbers.format_decimal(value, locale=locale())


@lru_cache(maxsize=4096)
def _integer(value: int, where: Locale) -> str:
    return babel_numbers.format_decimal(value, locale=where)


def format_percent(share: float | None) -> str:
    """A share in [0, 1] as a percentage: "87%" / "87 %"."""
    if share is None:
        return "—"
    return babel_numbers.format_percent(share, locale=locale())


def working_days(n: int) -> str:
    """ "1 working day", "2 working days", "0 jour ouvré"..."""
    return ngettext("%(num)s working day", "%(num)s working days", n)


class Lazy:
    """A sentence made when it is printed, in the language in effect then: what a mail's context
    holds for a text a use case words (a vote line) when its readers differ in language."""

    __slots__ = ("_args", "_make")

    def __init__(self, make: Callable[..., str], *args: Any) -> None:
        self._make, self._args = make, args

    def __str__(self) -> str:
        return self._make(*self._args)

    def __repr__(self) -> str:
        return f"Lazy({self._make.__name__})"


def translate(value: object) -> str:
    """A template's `|t`: a msgid held in a variable, translated; any other value (a workflow text
    in several languages, a name) as it prints itself in the reader's language."""
    return gettext(value) if isinstance(value, str) else str(value)


# -- templates --------------------------------------------------------------------------------------


def install(env: Any) -> None:
    """Give a Jinja2 environment gettext (`_`, `gettext`, `ngettext`, `pgettext`, `{% trans %}`) in
    the reader's language, and the formatting filters and globals."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(
        gettext=lambda message: translations(_current.get()).gettext(message),
        ngettext=lambda s, p, n: translations(_current.get()).ngettext(s, p, n),
        pgettext=lambda c, m: translations(_current.get()).pgettext(c, m),
        npgettext=lambda c, s, p, n: translations(_current.get()).npgettext(c, s, p, n),
        newstyle=True,
    )
    # The same callables as Jinja's newstyle ones just installed (same escaping, same `%`
    # formatting), calling the catalog directly: Jinja's go through `Context.call` twice per
    # sentence (`_` looks `gettext` up again), a tenth of a mail's rendering.
    env.globals.update(
        _=_template_gettext,
        gettext=_template_gettext,
        ngettext=_template_ngettext,
    )
    env.globals.update(
        html_lang=html_lang,
        current_language=language,
        language_names=NAMES,
        working_days=working_days,
        zone_name=zone_name,
        N_=N_,
    )
    env.filters.update(
        datetime_full=format_datetime,
        datetime_short=format_short_datetime,
        date=format_date,
        weekday=weekday,
        number=format_number,
        percent=format_percent,
        t=translate,
    )


@pass_context
def _template_gettext(__context: Any, __string: str, **variables: Any) -> str:
    rv = translations(_current.get()).gettext(__string)
    if __context.eval_ctx.autoescape:
        rv = Markup(rv)
    return rv % variables  # always a format string, as Jinja's newstyle gettext


@pass_context
def _template_ngettext(
    __context: Any, __singular: str, __plural: str, __num: int, **variables: Any
) -> str:
    variables.setdefault("num", format_number(__num))  # as Python's `ngettext`: 1,000; 1 000
    rv = translations(_current.get()).ngettext(__singular, __plural, __num)
    if __context.eval_ctx.autoescape:
        rv = Markup(rv)
    return rv % variables
