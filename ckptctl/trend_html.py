"""``trend --html``: one self-contained page (no network, no CDN), drawn with Plotly.

Plotly is an optional extra (``pip install 'ckptctl[plots]'``) imported only here.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from ckptctl.errors import UsageError
from ckptctl.trend import TrendReport


def write_html(report: TrendReport, path: str | os.PathLike[str]) -> None:
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError as e:
        raise UsageError(
            "--html needs Plotly, which is not installed",
            "install it with: pip install 'ckptctl[plots]'",
        ) from e
    flagged = [*report.never_changed, *(n.path for n in report.nonfinite)]
    order = sorted(
        report.values,
        key=lambda v: (not any(v.path == f or v.path.startswith(f + ".") for f in flagged), v.path),
    )
    steps = [str(s) for s in report.steps[1:]]
    z = [[_finite(r) for r in v.rel_change[1:]] for v in order]
    fig = make_subplots(
        rows=2,
        cols=1,
        row_heights=[0.6, 0.4],
        subplot_titles=("relative change per step", "norm"),
        vertical_spacing=0.12,
    )
    fig.add_trace(
        go.Heatmap(z=z, x=steps, y=[v.path for v in order], colorscale="Viridis"), row=1, col=1
    )
    for v in order:
        fig.add_trace(
            go.Scatter(x=[str(s) for s in report.steps], y=[_finite(n) for n in v.norm],
                       name=v.path, mode="lines+markers"),
            row=2,
            col=1,
        )  # fmt: skip
    title = f"ckptctl trend: {report.directory}"
    if flagged:
        title += "<br>flagged: " + ", ".join(flagged)
    fig.update_layout(title=title, height=max(600, 40 * len(order) + 400), showlegend=False)
    out = Path(path)
    tmp = out.with_name(out.name + ".tmp")
    fig.write_html(str(tmp), include_plotlyjs=True, full_html=True)
    os.replace(tmp, out)


def _finite(x: float | None) -> Any:
    return x if x is not None and math.isfinite(x) else None
