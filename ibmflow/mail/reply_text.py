"""Reading the text of a reply: its new text without the quoted history and the signature, the reply
keys of its recipients, and a vote. Pure: standard library only, no database, no clock."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from email.utils import parseaddr

# --- quoted history -----------------------------------------------------------------------------

_ATTRIBUTION_START = re.compile(r"^\s*(?:On|Le)\s", re.IGNORECASE)
_ATTRIBUTION_END = re.compile(r"(?:wrote|a\s+[ée]crit)\s*:\s*$", re.IGNORECASE)
_SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(?:original message|message d'origine|message original|forwarded message|"
    r"message transf[ée]r[ée])\s*-{2,}\s*$",
    re.IGNORECASE,
)
_RULE = re.compile(r"^\s*_{10,}\s*$")
_OUTLOOK_FROM = re.compile(r"^\s*\*?(?:From|De)\s*:\*?\s*\S", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(
    r"^\s*\*?(?:Sent|Envoy[ée]|Date|To|[ÀA]|Subject|Objet)\s*:\*?", re.IGNORECASE
)
_MOBILE = re.compile(
    r"^\s*(?:sent from my|envoy[ée] de mon|get outlook for|obtenir outlook pour)", re.IGNORECASE
)


def _history_starts(lines: list[str], i: int) -> bool:
    line = lines[i]
    if _SEPARATOR.match(line) or _RULE.match(line):
        return True
    if _ATTRIBUTION_START.match(line):
        # Clients wrap a long "On <date>, <name> <address> wrote:" over up to three lines; the
        # date's digits tell it from a sentence of the reply that happens to end in "wrote:".
        for end in range(i, min(i + 3, len(lines))):
            if _ATTRIBUTION_END.search(lines[end]):
                attribution = " ".join(lines[i : end + 1])
                return len(attribution) < 400 and any(c.isdigit() for c in attribution)
    if _OUTLOOK_FROM.match(line):
        following = [x for x in lines[i + 1 : i + 5] if x.strip()]
        return any(_OUTLOOK_NEXT.match(x) for x in following[:3])
    return False


def strip_quoted(text: str) -> str:
    """The new text of a reply: quoted lines, the quoted history and the signature removed."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        if line.rstrip("\n") in ("-- ", "--"):
            break  # the signature delimiter
        if _history_starts(lines, i):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    while kept and (not kept[-1].strip() or _MOBILE.match(kept[-1])):
        kept.pop()
    while kept and not kept[0].strip():
        kept.pop(0)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept))


# --- reply keys ---------------------------------------------------------------------------------

_KEY = re.compile(r"^[a-z0-9_-]{1,32}$")


def reply_keys(addresses: Iterable[str], reply_address: str) -> tuple[str, ...]:
    """The `KEY`s of the recipients written `local+KEY@domain` on the configured reply address."""
    local, _, domain = reply_address.strip().lower().partition("@")
    base = local.split("+", 1)[0]
    keys: dict[str, None] = {}
    for address in addresses:
        bare = parseaddr(address)[1].strip().lower() or address.strip().strip("<>").lower()
        box, _, host = bare.rpartition("@")
        if host != domain or "+" not in box:
            continue
        head, _, key = box.partition("+")
        if head == base and _KEY.match(key):
            keys.setdefault(key, None)
    return tuple(keys)


def at_reply_domain(address: str, reply_address: str) -> bool:
    """Whether an address is on the reply address's domain (what ibmflow's receiver accepts)."""
    domain = reply_address.strip().lower().rpartition("@")[2]
    return parseaddr(address)[1].strip().lower().rpartition("@")[2] == domain


# --- votes --------------------------------------------------------------------------------------

# Matched on the first line with its accents taken off ("approuvé" reads as "approuve") and the
# typographic apostrophe made straight; an apostrophe may be left out ("je m oppose").
_APPROVE = re.compile(
    r"^(?:i\s+|we\s+)?(?:approve[ds]?|approval|yes|agreed|agree[ds]?|no objections?|"
    r"pas d'?\s*objection|aucune objection|sans objection|"
    r"j'?\s*approuve|nous approuvons|approuve(?:e|s|es)?|oui|d'?\s*accord|"
    r"(?:je suis|nous sommes) d'?\s*accord|je vote pour|nous votons pour|favorable)\b",
    re.IGNORECASE,
)
_OBJECT = re.compile(
    r"^(?:i\s+|we\s+)?(?:object(?:ion|s)?|no|opposed?|disagree|"
    r"je m'?\s*oppose|nous nous opposons|opposition|non|pas d'?\s*accord|"
    r"(?:je ne suis|nous ne sommes) pas d'?\s*accord|je vote contre|nous votons contre|"
    r"defavorable)\b",
    re.IGNORECASE,
)
# A greeting alone on the first line ("Bonjour,", "Dear Karim,") comes before the vote.
_GREETING = re.compile(
    r"^(?:bonjour|bonsoir|hello|hi|dear|good (?:morning|afternoon|evening)|madame|monsieur|"
    r"mesdames|messieurs|cher|chere|chers)\b[^.!?:;]{0,60}[,!]?$",
    re.IGNORECASE,
)


def _plain(text: str) -> str:
    """`text` with its accents taken off letter by letter (same length: offsets still match) and
    typographic apostrophes made straight."""
    return "".join(
        unicodedata.normalize("NFKD", c)[0] if c.isalpha() else c
        for c in text.replace("\u2019", "'").replace("\u02bc", "'")
    )


def parse_vote(text: str) -> tuple[bool | None, str]:
    """Read a vote from a reply's new text, in English or French: (True, comment) to approve,
    (False, reason) to object, (None, why) when the first line says neither (a greeting alone on
    the first line is passed over)."""
    lines = [line.strip() for line in text.split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    if lines and _GREETING.match(_plain(lines[0])) and len(lines) > 1:
        lines.pop(0)
        while lines and not lines[0]:
            lines.pop(0)
    if not lines:
        return None, 'the reply is empty; write "approve", or "object" and the reason.'
    first = lines[0].replace("\u2019", "'").lstrip("*_ ").strip()
    plain = _plain(first)
    for pattern, verdict in ((_APPROVE, True), (_OBJECT, False)):
        match = pattern.match(plain)
        if match:
            rest = "\n".join([first[match.end() :], *lines[1:]])
            return verdict, rest.lstrip(" \t.,;:!-\u2013\u2014*_\n\u00a0").strip()
    return None, (
        f'the first line ("{first[:80]}") is neither "approve" nor "object"; '
        "the vote was not counted."
    )
