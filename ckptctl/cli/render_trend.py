"""``trend``'s table: a sparkline of relative change per value, flags first."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from ckptctl.trend import TrendReport

_SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None]) -> str:
    """One character per step, scaled to the largest finite change; ``·`` where there is none,
    ``!`` where it is not finite."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    top = max(finite, default=0.0)
    out = []
    for v in values:
        if v is None:
            out.append("·")
        elif not math.isfinite(v):
            out.append("!")
        elif top == 0 or v == 0:
            out.append("_")
        else:
            out.append(_SPARKS[min(len(_SPARKS) - 1, int(v / top * (len(_SPARKS) - 1) + 0.5))])
    return "".join(out)


def _num(x: float | None) -> str:
    if x is None:
        return ""
    if not math.isfinite(x):
        return str(x)
    return f"{x:.3g}"


def render_trend(report: TrendReport, console: Console) -> None:
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column(overflow="fold")
    head.add_row("Directory", escape(report.directory))
    steps = ", ".join(str(s) for s in report.steps)
    head.add_row("Checkpoints", f"{len(report.checkpoints)} (steps {escape(steps)})")
    head.add_row("Values", f"{len(report.values)}" + (" of the model" if report.model_only else ""))
    console.print(head)
    console.print()
    frozen = set(report.never_changed)
    bad = {n.path for n in report.nonfinite}
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("path", overflow="fold")
    table.add_column("relative change", no_wrap=True)
    table.add_column("last norm", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)

    def flagged(path: str) -> str:
        if path in bad:
            return "NaN/Inf"
        if path in frozen or any(path.startswith(f + ".") for f in frozen):
            return "never changed"
        return ""

    rows = sorted(report.values, key=lambda v: (flagged(v.path) == "", v.path))
    for v in rows:
        flag = flagged(v.path)
        table.add_row(
            escape(v.path),
            sparkline(v.rel_change[1:]),
            _num(v.norm[-1] if v.norm else None),
            Text(flag, style="bold red" if flag else ""),
        )
    console.print(table)
    if report.largest:
        movers = ", ".join(f"{m.path} ({_num(m.max_rel_change)})" for m in report.largest)
        console.print(f"Largest movers: {escape(movers)}")
    if report.ok:
        console.print(Text("Every value changed, and every value is finite.", style="bold green"))
    else:
        parts = []
        if report.never_changed:
            parts.append(f"never changed: {', '.join(report.never_changed)}")
        if report.nonfinite:
            parts.append(
                "NaN or Inf: "
                + ", ".join(f"{n.path} (from step {n.first_step})" for n in report.nonfinite)
            )
        console.print(Text("; ".join(parts), style="bold red"))
