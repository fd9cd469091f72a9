"""The one shape of a benchmark's result, and the command line every benchmark script shares.

Each script under ``bench/`` measures one thing and its baseline *in the same run* (so the ratio
means something on any machine), and is run as ``python bench/NAME.py [--quick] [--json]``:

- ``--quick``: a small size that finishes in seconds (``make test`` runs every script so, to
  prove it still works; figures at that size are not the ones to quote);
- ``--json``: a list of ``{name, value, unit, baseline, ratio, target, met, note}`` on stdout.

Targets are reported, never asserted: a missed target is a figure with ``met: false`` and a note,
and the script still exits 0 (``--strict`` makes a missed target exit 1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Figure:
    """One measured figure beside its baseline and target.

    ``ratio`` is ``value / baseline`` when both are known. ``target`` says in words what must
    hold (``">= 0.70 x baseline"``, ``"< 50 ms"``); ``met`` is the script's verdict on it.
    """

    name: str
    value: float
    unit: str
    baseline: float | None = None
    target: str | None = None
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        # Four significant digits: a ratio of 0.00045 (a lookup 2,000x faster) must not read 0.0005.
        data["ratio"] = None if self.ratio is None else float(f"{self.ratio:.4g}")
        return data


Measure = Callable[[bool], Awaitable[Sequence[Figure]]]


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.4f}"


def render(figures: Sequence[Figure]) -> str:
    """A plain-text table for people (no colour: it ends up in logs and docs)."""
    rows = [("measure", "value", "unit", "baseline", "ratio", "target", "met")]
    for figure in figures:
        met = "—" if figure.met is None else ("yes" if figure.met else "NO")
        rows.append(
            (
                figure.name,
                _number(figure.value),
                figure.unit,
                _number(figure.baseline),
                _number(figure.ratio),
                figure.target or "—",
                met,
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    notes = [f"- {figure.name}: {figure.note}" for figure in figures if figure.note]
    return "\n".join(lines + (["", *notes] if notes else []))


def main(measure: Measure, description: str, argv: Sequence[str] | None = None) -> int:
    """Parse the shared options, run ``measure(quick)``, print the figures; the exit status."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a small size that finishes in seconds")
    parser.add_argument("--json", action="store_true", help="print the figures as a JSON list")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    options = parser.parse_args(argv)
    figures = list(asyncio.run(measure(options.quick)))
    if options.json:
        print(json.dumps([figure.as_json() for figure in figures], ensure_ascii=False, indent=2))
    else:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        print(f"{description} — {stamp}, {platform.node()}, Python {platform.python_version()}")
        print(render(figures))
    if options.strict and any(figure.met is False for figure in figures):
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover - a library module
    sys.exit("bench/report.py is imported by the benchmark scripts; run one of them instead")
