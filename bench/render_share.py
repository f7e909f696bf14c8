"""How much of a step and of a sweep is rendering mails, and what the two ways of rendering less
would save (issue 11, item 2). Measures only; the product code is not changed.

    python bench/render_share.py [--processes N] [--scale S] [--json]

Since the choice was made (rendering at dispatch, migration 0012), steps and sweeps render nothing:
this benchmark then reports a share of 0 and stops before part 2. It is kept to measure the choice
again on a version that renders in the transaction (bench/README.md, "Third round, integrated").

1. Share: `Renderer.render` is wrapped with a timer while `bench/steps.py`'s ibmflow side drives N
   processes (only the nine completions of each are counted, as there) and while one sweep runs on
   `bench/sweep_data.py`'s data at `--scale` (SQLite). Every (kind, language, context) rendered in
   the sweep is kept for part 2.
2. The two strategies, on the sweep's real contexts:
   - **once per kind and language per batch**: each kind rendered once with stand-ins for what
     differs per person (the values of the context that differ between its mails: names, links,
     request ids...), then each mail made by replacing the stand-ins by that person's values
     (HTML-escaped in the HTML part). Checked against the mails rendered one by one: a mail whose
     template branches or formats on a per-person value does not come out the same, and is
     counted as a miss (it would have to be rendered by itself).
   - **at dispatch from stored context**: the sweep stores each mail's context as JSON (what it
     would write instead of the bodies) and the dispatcher renders it; the sweep's cost is the
     `json.dumps`, the dispatcher's `json.loads` plus the same render as today.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

import steps
import sweep

from ibmflow import demo
from ibmflow.mail import stored as kept_context  # what the outbox stores
from ibmflow.mail.render import Rendered, Renderer
from ibmflow.services import chase, processes

_original = Renderer.render


class Timer:
    """Time spent in Renderer.render while `on`; the contexts rendered while `keep`."""

    def __init__(self) -> None:
        self.on = False
        self.keep = False
        self.seconds = 0.0
        self.calls = 0
        self.kept: list[tuple[Renderer, str, dict[str, Any], str | None]] = []

    def install(self) -> None:
        timer = self

        def render(
            self: Renderer, kind: str, context: Mapping[str, Any], language: str | None = None
        ) -> Rendered:
            start = time.perf_counter()
            try:
                return _original(self, kind, context, language)
            finally:
                if timer.on:
                    timer.seconds += time.perf_counter() - start
                    timer.calls += 1
                if timer.keep:
                    timer.kept.append((self, kind, dict(context), language))

        Renderer.render = render  # type: ignore[method-assign]


def step_share(timer: Timer, n: int, folder: Path) -> dict[str, float]:
    (folder / "steps").mkdir()
    ctx = steps.ibmflow_context(folder / "steps")
    steps.run_ibmflow(ctx, ["WARMUP"])
    spent = 0.0
    count = 0

    def timed(ctx_: Any, key: str) -> processes.Moved:
        nonlocal spent, count
        timer.on = True
        start = time.perf_counter()
        try:
            return processes.fire(ctx_, key, "complete", actor=demo.COORDINATOR)
        finally:
            spent += time.perf_counter() - start
            timer.on = False
            count += 1

    timer.seconds, timer.calls = 0.0, 0
    for i in range(n):
        demo.drive(ctx, f"SHARE-{i:03d}", advance=timed)
    ctx.db.dispose()
    return {
        "steps": count,
        "ms_per_step": 1000 * spent / count,
        "render_ms_per_step": 1000 * timer.seconds / count,
        "renders_per_step": timer.calls / count,
        "share": timer.seconds / spent,
    }


def sweep_share(timer: Timer, scale: float, folder: Path) -> dict[str, float]:
    ctx = sweep.context("sqlite:///" + str(folder / "sweep.db"), folder)
    sweep.build(ctx, folder, scale)
    timer.seconds, timer.calls = 0.0, 0
    timer.on = timer.keep = True
    start = time.perf_counter()
    swept = chase.sweep(ctx, now=sweep.NOW, worker="bench:share")
    spent = time.perf_counter() - start
    timer.on = timer.keep = False
    ctx.db.dispose()
    rungs = len(swept.rungs)
    return {
        "rungs": rungs,
        "ms_per_rung": 1000 * spent / rungs,
        "render_ms_per_rung": 1000 * timer.seconds / rungs,
        "renders": timer.calls,
        "share": timer.seconds / spent,
    }


def _flat(context: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in context.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _set(context: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for p in parents:
        context[p] = dict(context[p])
        context = context[p]
    context[last] = value


def strategies(kept: list[tuple[Renderer, str, dict[str, Any], str | None]]) -> dict[str, Any]:
    """Render the kept contexts the three ways; time each and check the batch one's mails."""
    # Today: one render per mail.
    start = time.perf_counter()
    today = [r.render(kind, c, lang) for r, kind, c, lang in kept]
    today_s = time.perf_counter() - start

    # Once per (kind, language): stand-ins for the values that differ between the kind's mails.
    groups: dict[tuple[str, str | None], list[int]] = {}
    for i, (_, kind, _, lang) in enumerate(kept):
        groups.setdefault((kind, lang), []).append(i)
    start = time.perf_counter()
    batched: list[Rendered | None] = [None] * len(kept)
    misses = 0
    alone: dict[str, list[str]] = {}  # kind -> the per-person values that made it render alone
    for idxs in groups.values():
        renderer, kind, first, lang = kept[idxs[0]]
        flats = [_flat(kept[i][2]) for i in idxs]
        varying = [k for k in flats[0] if any(f.get(k) != flats[0].get(k) for f in flats[1:])]
        odd = [k for k in varying if any(not isinstance(f.get(k), str | int) for f in flats)]
        if odd:
            alone[kind] = odd
            misses += len(idxs)
            for i in idxs:
                batched[i] = renderer.render(kind, kept[i][2], lang)
            continue
        stand_in = dict(first)
        marks = {k: f"\x00{n}\x00" for n, k in enumerate(varying)}
        for k, mark in marks.items():
            _set(stand_in, k, mark)
        try:
            shape = renderer.render(kind, stand_in, lang)
        except Exception:  # a filter on a per-person value: render each by itself
            shape = None
        for i, flat in zip(idxs, flats, strict=True):
            if shape is None:
                batched[i] = renderer.render(kind, kept[i][2], lang)
                misses += 1
                continue
            subject, text, html = shape.subject, shape.text, shape.html
            for k, mark in marks.items():
                value = str(flat[k])
                subject = subject.replace(mark, value)
                text = text.replace(mark, value)
                html = html.replace(mark, str(escape(value)))
            batched[i] = Rendered(subject=subject, text=text, html=html)
    batch_s = time.perf_counter() - start
    wrong = sum(1 for a, b in zip(today, batched, strict=True) if a != b)

    # At dispatch: the sweep writes the context as JSON; the dispatcher loads and renders it.
    start = time.perf_counter()
    stored = [kept_context.dumps(c, lang or "en") for _, _, c, lang in kept]
    store_s = time.perf_counter() - start
    start = time.perf_counter()
    dispatched = [
        r.render(kind, kept_context.loads(text), lang)
        for (r, kind, _, lang), text in zip(kept, stored, strict=True)
    ]
    dispatch_s = time.perf_counter() - start
    dispatch_wrong = sum(1 for a, b in zip(today, dispatched, strict=True) if a != b)
    n = len(kept)
    return {
        "mails": n,
        "kinds": len(groups),
        "today_ms_per_mail": 1000 * today_s / n,
        "once_per_kind_ms_per_mail": 1000 * batch_s / n,
        "once_per_kind_wrong_mails": wrong,
        "once_per_kind_rendered_alone": misses,
        "rendered_alone_because": alone,
        "stored_context_sweep_ms_per_mail": 1000 * store_s / n,
        "stored_context_dispatch_ms_per_mail": 1000 * dispatch_s / n,
        "stored_context_bytes_per_mail": statistics.mean(len(s) for s in stored),
        "stored_context_wrong_mails": dispatch_wrong,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=5)
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    timer = Timer()
    timer.install()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        result = {
            "step": step_share(timer, args.processes, folder),
            "sweep": sweep_share(timer, args.scale, folder),
        }
        if not timer.kept:
            print(
                "nothing rendered during the steps and the sweep: mails are rendered at dispatch "
                "(migration 0012); see bench/README.md",
                file=sys.stderr,
            )
            return 0
        result["strategies"] = strategies(timer.kept)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    s, w, g = result["step"], result["sweep"], result["strategies"]
    print(
        f"step: {s['ms_per_step']:.2f} ms, of which rendering {s['render_ms_per_step']:.2f} ms "
        f"({100 * s['share']:.0f}%, {s['renders_per_step']:.1f} renders a step)"
    )
    print(
        f"sweep: {w['ms_per_rung']:.2f} ms a rung, of which rendering {w['render_ms_per_rung']:.2f}"
        f" ms ({100 * w['share']:.0f}%, {w['renders']} renders for {w['rungs']} rungs)"
    )
    print(
        f"the sweep's {g['mails']} mails ({g['kinds']} kinds): one by one "
        f"{g['today_ms_per_mail']:.3f} ms a mail; once per kind + substitution "
        f"{g['once_per_kind_ms_per_mail']:.3f} ms ({g['once_per_kind_wrong_mails']} differ from "
        f"one by one, {g['once_per_kind_rendered_alone']} rendered alone); stored context: "
        f"{g['stored_context_sweep_ms_per_mail']:.3f} ms in the sweep "
        f"({g['stored_context_bytes_per_mail']:.0f} bytes), "
        f"{g['stored_context_dispatch_ms_per_mail']:.3f} ms at dispatch "
        f"({g['stored_context_wrong_mails']} differ from one by one)"
    )
    for kind, keys in g["rendered_alone_because"].items():
        print(f"  {kind} rendered alone: per-person values that are not text: {', '.join(keys)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
