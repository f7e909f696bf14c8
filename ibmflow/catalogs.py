"""Keeping the gettext catalogs: Babel's own commands, run with the project's settings.

    python -m ibmflow.catalogs extract   # the .pot, from the code and templates
    python -m ibmflow.catalogs update    # each language's .po merged with the new .pot
    python -m ibmflow.catalogs pseudo    # the en_XA pseudo-locale, generated from the .pot
    python -m ibmflow.catalogs compile   # the .mo files (optional: catalogs compile when loaded)
    python -m ibmflow.catalogs all       # extract, update, pseudo

The same as `pybabel extract -F ibmflow/locale/babel.cfg ...` with the keywords below; the README says
how a translator works with them. Run from the repository's root (the mapping's paths are relative).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po, write_po

from ibmflow.i18n import DOMAIN, LOCALE_DIR, PSEUDO

ROOT = LOCALE_DIR.parent.parent
POT = LOCALE_DIR / f"{DOMAIN}.pot"
MAPPING = LOCALE_DIR / "babel.cfg"
KEYWORDS = ("_", "N_", "gettext", "ngettext:1,2", "pgettext:1c,2", "npgettext:1c,2,3")
TRANSLATED = ("fr",)  # the catalogs translators write; the pseudo-locale is generated


def extract_args(output: Path) -> list[str]:
    """The `pybabel extract` command line that writes the `.pot` to `output`."""
    args = ["pybabel", "-q", "extract", "-F", str(MAPPING), "-o", str(output)]
    args += ["--no-location", "--sort-output", "--no-wrap", "--omit-header"]
    args += ["--project", "ibmflow", "--msgid-bugs-address", "-"]
    for keyword in KEYWORDS:
        args += ["-k", keyword]
    return [*args, "ibmflow", "notifications"]


def extract(output: Path = POT) -> None:
    """Re-extract the `.pot` from the code (paths of the mapping are relative to the root)."""
    _run(extract_args(output))


def merge() -> None:
    """Merge the `.pot` into each translated catalog (new entries empty, changed ones fuzzy)."""
    for lang in TRANSLATED:
        catalog = ["-D", DOMAIN, "-i", str(POT), "-d", str(LOCALE_DIR), "-l", lang, "--no-wrap"]
        if not (LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po").exists():
            _run(["pybabel", "-q", "init", *catalog])
        _run(["pybabel", "-q", "update", *catalog, "--ignore-obsolete"])


def compile_all() -> None:
    """Build every `.mo` (what `i18n.translations` would otherwise compile when loading)."""
    _run(["pybabel", "-q", "compile", "-D", DOMAIN, "-d", str(LOCALE_DIR), "--statistics"])


# -- the pseudo-locale ---------------------------------------------------------------------------

_ACCENTED = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "àƀçðéƒĝĥîĵķļɱñöþǫŕšţûṽŵẋýžÅƁÇÐÉƑĜĤÎĴĶĻṀÑÖÞǪŔŠŢÛṼŴẊÝŽ",
)
# What a message must keep as written: placeholders, HTML tags and entities, URLs.
_KEEP = re.compile(
    r"%\([a-z_]+\)[-+ #0]*\d*(?:\.\d+)?[sdifr]|%[sd%]|<[^>]*>|&[a-z]+;|https?://\S+|\{[a-z_]+\}"
)
OPEN, CLOSE = "⟦", "⟧"  # the markers a test looks for


def pseudo_text(message: str) -> str:
    """`message` accented and bracketed, its placeholders, tags and URLs kept as they are."""
    out, last = [], 0
    for match in _KEEP.finditer(message):
        out.append(message[last : match.start()].translate(_ACCENTED))
        out.append(match.group())
        last = match.end()
    out.append(message[last:].translate(_ACCENTED))
    return f"{OPEN}{''.join(out)}{CLOSE}" if message.strip() else message


def pseudo(pot: Path = POT) -> Path:
    """Write the pseudo-locale's catalog: every message of the `.pot` transformed."""
    with pot.open("rb") as handle:
        template = read_po(handle)
    catalog = Catalog(locale="en", domain=DOMAIN, project="ibmflow", fuzzy=False)
    for message in template:
        if not message.id:
            continue
        if isinstance(message.id, list | tuple):
            string: str | tuple[str, ...] = tuple(pseudo_text(str(part)) for part in message.id)
        else:
            string = pseudo_text(str(message.id))
        catalog.add(message.id, string, context=message.context, flags=message.flags - {"fuzzy"})
    target = LOCALE_DIR / PSEUDO / "LC_MESSAGES" / f"{DOMAIN}.po"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as handle:
        write_po(handle, catalog, width=0, omit_header=True, sort_output=True)
    return target


def _run(args: list[str]) -> None:
    import os

    here = Path.cwd()
    os.chdir(ROOT)
    try:
        CommandLineInterface().run(args)  # type: ignore[no-untyped-call]
    finally:
        os.chdir(here)


def main(argv: list[str]) -> int:
    steps: dict[str, list[Callable[[], object]]] = {
        "extract": [extract],
        "update": [merge],
        "pseudo": [pseudo],
        "compile": [compile_all],
        "all": [extract, merge, pseudo],
    }
    if len(argv) != 1 or argv[0] not in steps:
        print(__doc__)
        return 2
    for step in steps[argv[0]]:
        step()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
