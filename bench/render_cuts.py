"""The cost of one mail's rendering, with and without each of perf-round2's rendering cuts.

    python bench/render_cuts.py [--rounds N]

Renders every message kind's sample (`ibmflow.mail.samples`) in English and in French, `--rounds`
times (default 200), and reports the CPU time per mail (`time.process_time`, the median of five
passes) for: Jinja's own newstyle gettext callables and a Babel locale parsed at every date and number
(as before perf-round2); then each cut alone; then both (as now). Every variant must give the very
same subject, text and HTML for every mail, or the benchmark stops.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from babel import Locale

from ibmflow import i18n
from ibmflow.mail.render import MESSAGE_KINDS, Rendered, Renderer
from ibmflow.mail.samples import sample_context

REPO = Path(__file__).resolve().parent.parent
LANGUAGES = ("en", "fr")


def _jinja_callables(renderer: Renderer) -> None:
    """Put back what `install` had before: Jinja's newstyle wrappers (`_` resolving `gettext`)."""
    for env in (renderer._text, renderer._html):
        env.globals.pop("_", None)
        env.install_gettext_callables(
            gettext=lambda m: i18n.translations(i18n.language()).gettext(m),
            ngettext=lambda s, p, n: i18n.translations(i18n.language()).ngettext(s, p, n),
            pgettext=lambda c, m: i18n.translations(i18n.language()).pgettext(c, m),
            npgettext=lambda c, s, p, n: i18n.translations(i18n.language()).npgettext(c, s, p, n),
            newstyle=True,
        )
        from jinja2.ext import _gettext_alias

        env.globals["_"] = _gettext_alias


def _renderer(direct_gettext: bool) -> Renderer:
    renderer = Renderer(REPO / "notifications")
    if not direct_gettext:
        _jinja_callables(renderer)
    return renderer


def _set_locale(parsed_once: bool) -> None:
    """`i18n.locale` as now (parsed once per language) or as before (parsed at every call)."""
    if parsed_once:
        i18n.locale = _LOCALE_CACHED  # type: ignore[misc]
    else:
        i18n.locale = _parse_every_time  # type: ignore[misc]


def _parse_every_time() -> Locale:
    return Locale.parse(i18n._babel_locale_name(i18n.language()))


_LOCALE_CACHED = i18n.locale


def _pass(
    renderer: Renderer, contexts: list[tuple[str, dict[str, Any], str]], rounds: int
) -> float:
    start = time.process_time()
    for _ in range(rounds):
        for kind, context, lang in contexts:
            renderer.render(kind, context, lang)
    return (time.process_time() - start) / (rounds * len(contexts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    contexts = [(k, sample_context(k), lang) for k in MESSAGE_KINDS for lang in LANGUAGES]
    variants = {
        "before (Jinja's callables, locale parsed each time)": (False, False),
        "locale parsed once": (True, False),
        "gettext called directly": (False, True),
        "both (perf-round2)": (True, True),
    }
    renderers = {name: _renderer(direct) for name, (_, direct) in variants.items()}
    reference: list[Rendered] | None = None
    for name, flags in variants.items():  # same bytes, every variant
        _set_locale(flags[0])
        got = [renderers[name].render(k, c, lang) for k, c, lang in contexts]
        if reference is None:
            reference = got
        elif got != reference:
            raise SystemExit(f"{name}: the mails differ from the first variant's")
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(5):  # interleaved passes
        for name, flags in variants.items():
            _set_locale(flags[0])
            times[name].append(_pass(renderers[name], contexts, args.rounds))
    print(f"{len(contexts)} mails ({len(MESSAGE_KINDS)} kinds x {LANGUAGES}), {args.rounds} rounds")
    base = statistics.median(times[next(iter(variants))])
    for name, values in times.items():
        med = statistics.median(values)
        print(f"{name:55} {1e6 * med:8.1f} us CPU per mail  ({med / base:.2f}x)")


if __name__ == "__main__":
    main()
