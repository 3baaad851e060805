"""bench/results/bench.png: throughput and p99 of every load run of `make bench` (drawn by bench/report.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

COLOURS = {
    "registry": "#4C72B0",
    "dispatch": "#DD8452",
    "hotline": "#C44E52",
    "wishes": "#55A868",
    "mobile": "#8172B3",
}


def draw_chart(runs: list[dict[str, Any]], path: Path, machine: dict[str, Any]) -> None:
    """Two panels sharing the rows: rps (log) and p99 ms (log); one row per load run, parts in order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from matplotlib.ticker import LogLocator, NullFormatter, NullLocator

    n = max(len(runs), 1)
    fig, (ax_rps, ax_p99) = plt.subplots(
        1, 2, sharey=True, figsize=(13, 1.9 + 0.26 * n), gridspec_kw={"wspace": 0.04}
    )
    ys = list(range(n))[::-1]
    for y, r in zip(ys, runs, strict=False):
        colour = COLOURS.get(r["part"], "#777777")
        style = {
            "color": colour,
            "alpha": 0.45 if r["baseline"] else 0.9,
            "hatch": "//" if r["baseline"] else None,
            "edgecolor": colour,
            "height": 0.72,
        }
        ax_rps.barh(y, r["rps"], **style)
        ax_p99.barh(y, r["p99_ms"], **style)
        ax_rps.text(
            r["rps"] * 1.06,
            y,
            f"{r['rps']:,.0f}" if r["rps"] >= 10 else f"{r['rps']:.1f}",
            va="center",
            fontsize=7,
        )
        ax_p99.text(
            r["p99_ms"] * 1.06,
            y,
            f"{r['p99_ms']:,.1f}" if r["p99_ms"] < 100 else f"{r['p99_ms']:,.0f}",
            va="center",
            fontsize=7,
        )
        if r.get("p99_target_ms"):
            ax_p99.plot([r["p99_target_ms"]] * 2, [y - 0.45, y + 0.45], color="black", lw=2)
    ax_rps.set_yticks(ys, [r["label"] for r in runs], fontsize=8)
    ax_rps.set_ylim(-0.7, n - 0.3)
    for ax, title in (
        (ax_rps, "throughput, requests/s (log)"),
        (ax_p99, "p99 latency, ms (log); | = target"),
    ):
        ax.set_xscale("log")
        ax.set_title(title, fontsize=10)
        ax.grid(axis="x", which="major", alpha=0.35)
        ax.xaxis.set_major_locator(LogLocator(base=10))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.tick_params(axis="x", labelsize=8)
    if runs:
        ax_rps.set_xlim(min(r["rps"] for r in runs) / 2, max(r["rps"] for r in runs) * 3)
        ax_p99.set_xlim(min(r["p99_ms"] for r in runs) / 2, max(r["p99_ms"] for r in runs) * 4)
    parts = list(dict.fromkeys(r["part"] for r in runs))
    handles = [Patch(color=COLOURS.get(p, "#777777"), label=p) for p in parts]
    handles.append(Patch(facecolor="white", edgecolor="grey", hatch="//", label="baseline (same part's run)"))
    fig.suptitle(
        f"GridGov make bench: every load run (label: part tag, endpoint, clients). "
        f"{machine.get('cores_logical')} cores, shared by the load generator, the servers and PostgreSQL",
        fontsize=10,
    )
    height = 1.9 + 0.26 * n
    fig.subplots_adjust(left=0.26, right=0.99, top=1 - 1.05 / height, bottom=0.45 / height)
    fig.legend(
        handles=handles,
        loc="upper center",
        ncol=len(handles),
        fontsize=8,
        frameon=False,
        bbox_to_anchor=(0.6, 1 - 0.32 / height),
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)
