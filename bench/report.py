"""The one report of `make bench`: bench/results/REPORT.md, report.json and bench.png.

    python -m bench.report              # rebuild from the JSONs already in bench/results/
    python -m bench.report --results DIR --out DIR

`make bench` runs five parts (bench.run → registry.json, bench.dispatch → dispatch.json, bench.hotline,
bench.wishes, bench.mobile), each measuring its own baselines (the bare FastAPI + asyncpg insert of
bench/baseline_app.py; the service's own GET /healthz where the part measures it) in its own run, and
this module last. It collects every figure the service issues ask for from those JSONs, checks it
against its target, and gives it as a ratio to the baselines of the same part's run (parts can come from
different runs: each part's date and commit are shown, and parts older than the current commit are
flagged). The chart plots throughput and p99 of every load run. Nothing is measured here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report_chart import draw_chart
from bench.report_parts import BUILDERS, Part, fmt_ms, fmt_num

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# (key, JSON file, the part's own Markdown report, command, short tag used in the tables)
PARTS = [
    ("registry", "registry.json", "REGISTRY.md", "python -m bench.run", "R"),
    ("dispatch", "dispatch.json", "DISPATCH.md", "python -m bench.dispatch", "D"),
    ("hotline", "hotline.json", "HOTLINE.md", "python -m bench.hotline", "H"),
    ("wishes", "wishes.json", "WISHES.md", "python -m bench.wishes", "W"),
    ("mobile", "mobile.json", "MOBILE.md", "python -m bench.mobile", "M"),
]
SHARED = (
    "The load generator (tools/loadgen.py), every server under test (one uvicorn process each) and "
    "PostgreSQL run on this one machine and share its cores; no figure is for a server with the machine "
    "to itself. Read the ratios to the same-run baselines more than the absolute numbers."
)


# what a figure depends on: a later commit touching only these paths' complement (tests, docs, the
# results themselves) leaves a part's figures current
MEASURED = (
    "services",
    "shared",
    "migrations",
    "tools",
    "bench",
    ":(exclude)bench/results",
    "requirements.lock",
    "pyproject.toml",
)


def _git(*args: str) -> str:
    try:
        p = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return p.stdout.strip() if p.returncode == 0 else ""


def head_commit() -> str:
    return _git("rev-parse", "--short", "HEAD")


def commit_status(commit: str, head: str) -> tuple[str, bool]:
    """('current' | 'N commits older than HEAD' | …, stale?) for a part's `git_commit` (may end -dirty)."""
    if not commit:
        return "commit unknown", True
    rev, dirty = commit.removesuffix("-dirty"), commit.endswith("-dirty")
    note = " (uncommitted changes at the time)" if dirty else ""
    if not head:
        return "no git here" + note, False
    if _git("rev-parse", rev) == _git("rev-parse", head):
        return "current" + note, False
    if not _git("rev-parse", "--verify", "--quiet", rev + "^{commit}"):
        return "⚠ commit not in this history" + note, True
    behind = _git("rev-list", "--count", f"{rev}..{head}")
    changed = _git("diff", "--name-only", rev, head, "--", *MEASURED)
    if not changed:
        return f"{behind} commit(s) behind HEAD, none changing measured code" + note, False
    n = len(changed.splitlines())
    return f"⚠ older: {behind} commit(s) behind HEAD, {n} measured file(s) changed since" + note, True


def this_machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        import psutil

        mem = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    return {"cores_logical": os.cpu_count(), "cpu_model": model, "memory_gb": mem}


# ---- assembling --------------------------------------------------------------------------------------


def build(results: Path) -> dict[str, Any]:
    head = head_commit()
    machine = this_machine()
    parts_info, rows, runs = [], [], []
    for key, fname, md, cmd, tag in PARTS:
        f = results / fname
        info: dict[str, Any] = {"part": key, "tag": tag, "json": fname, "report": md, "command": cmd}
        if not f.exists():
            info.update(status="⚠ not run (no JSON)", stale=True)
            parts_info.append(info)
            rows.append(
                {
                    "part": key,
                    "tag": tag,
                    "figure": f"{key}: every figure",
                    "value": f"not measured: no {fname}",
                    "target": "—",
                    "ok": False,
                    "ratio": "—",
                }
            )
            continue
        data = json.loads(f.read_text(encoding="utf-8"))
        env = data.get("environment", {})
        status, stale = commit_status(env.get("git_commit", ""), head)
        part = Part(key, tag, data)
        part.baseline_runs()
        try:
            BUILDERS[key](part)
        except (KeyError, TypeError, ValueError, IndexError) as e:
            part.row(f"{key}: figures", f"⚠ could not read {fname}: {type(e).__name__} {e}", "—", False, "—")
        base = {}
        for c, b in sorted(part.base.items()):
            for kind, run in b.items():
                base[f"{kind}@{c}"] = {"rps": run["rps"], "p50_ms": run["p50_ms"], "p99_ms": run["p99_ms"]}
        info.update(
            date=env.get("date"),
            commit=env.get("git_commit"),
            status=status,
            stale=stale,
            quick=bool(data.get("config", {}).get("quick")),
            total_s=data.get("total_s"),
            machine={k: env.get(k) for k in ("cores_logical", "cpu_model", "memory_gb")},
            baselines=base,
        )
        parts_info.append(info)
        rows += part.rows
        runs += part.runs
    return {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "head_commit": head,
        "machine": machine,
        "shared_machine": SHARED,
        "parts": parts_info,
        "figures": rows,
        "runs": runs,
        "summary": {
            "pass": sum(r["ok"] is True for r in rows),
            "fail": sum(r["ok"] is False for r in rows),
            "info": sum(r["ok"] is None for r in rows),
        },
    }


def _mark(ok: bool | None) -> str:
    return "✔" if ok is True else "✘" if ok is False else "info"


def _cell(s: Any) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def _baseline_text(info: dict[str, Any]) -> str:
    b = info.get("baselines") or {}
    out = []
    for kind, name in (("healthz", "healthz"), ("insert", "insert")):
        keys = sorted((k for k in b if k.startswith(kind + "@")), key=lambda k: int(k.split("@")[1]))
        for k in keys:
            out.append(f"{name}@{k.split('@')[1]} {fmt_num(b[k]['rps'])} rps, p99 {fmt_ms(b[k]['p99_ms'])}")
        if not keys and kind == "healthz":
            out.append("healthz: not measured in this part")
    return "; ".join(out)


def markdown(rep: dict[str, Any]) -> str:
    m = rep["machine"]
    s = rep["summary"]
    lines = [
        "# GridGov benchmark report",
        "",
        f"Built {rep['generated']} at commit {rep['head_commit'] or '?'} by `python -m bench.report` from the "
        "parts' JSON files in this directory. "
        f"**{s['pass']} ✔, {s['fail']} ✘**, {s['info']} informative.",
        "",
        f"**Machine: {m['cores_logical']} cores** ({m['cpu_model'] or 'CPU model unknown'}), "
        f"{m['memory_gb']} GB RAM. {rep['shared_machine']}",
        "",
        "## Parts and their baselines",
        "",
        "Each part measured its own baselines in its own run, right before its figures, on the same machine "
        "and PostgreSQL cluster: the bare FastAPI + asyncpg single-row insert (`bench/baseline_app.py`) and, "
        "where the part measures it, the service's own `GET /healthz`. Every ratio below uses the baselines "
        "of the part it belongs to (tag and concurrency in brackets, e.g. [R@32]).",
        "",
        "| Tag | Part | Run at | Commit | vs HEAD | Mode | Machine | Baselines measured in that run | Details |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in rep["parts"]:
        mach = p.get("machine") or {}
        differs = mach and (mach.get("cores_logical"), mach.get("cpu_model")) != (
            m["cores_logical"],
            m["cpu_model"],
        )
        mtxt = f"{mach.get('cores_logical', '?')} cores, {mach.get('cpu_model', '?')}" if mach else "—"
        lines.append(
            f"| {p['tag']} | {p['part']} (`{p['command']}`) | {p.get('date') or '—'} | {p.get('commit') or '—'} | "
            f"{p['status']} | {'quick' if p.get('quick') else 'full'} | {mtxt}{' (not this machine)' if differs else ''} "
            f"| {_cell(_baseline_text(p))} | [{p['report']}]({p['report']}) |"
        )
    if any(p.get("stale") for p in rep["parts"]):
        lines += [
            "",
            "⚠ Parts marked *older* were measured at an earlier commit than HEAD; rerun `make bench` "
            "(or that part's command, then `python -m bench.report`) for figures of the current code.",
        ]
    lines += [
        "",
        "## Figures",
        "",
        "Result: ✔ target met, ✘ missed (or not measured), *info* where the issue asks for the figure only. "
        "Ratio: the figure's throughput as a multiple of the same run's healthz and insert throughput, and its "
        "p99 as a multiple of the insert's p99 (for the claim race and redemptions: of the same number of bare "
        "requests sent at once). ⚠ after a value: other processes used ≥ 20% of a core during that run.",
        "",
        "| Tag | Figure | Value | Target | Result | Ratio to same-run baselines |",
        "|---|---|---|---|---|---|",
    ]
    for r in rep["figures"]:
        lines.append(
            f"| {r['tag']} | {_cell(r['figure'])} | {_cell(r['value'])} | {_cell(r['target'])} | "
            f"**{_mark(r['ok'])}** | {_cell(r['ratio'])} |"
        )
    lines += [
        "",
        "## Chart",
        "",
        "![Throughput and p99 of every load run](bench.png)",
        "",
        "`bench.png`: every load run of every part (baselines hatched), throughput in requests/s and p99 in ms, "
        "both on log scales; a black tick marks a p99 target. Runs of different parts are on different runs' "
        "machines and moments: compare a bar with its own part's baselines.",
        "",
        "Raw numbers: `report.json` (these figures, with numbers) and each part's own JSON next to this file.",
        "",
    ]
    return "\n".join(lines)


def write(results: Path, out: Path) -> dict[str, Any]:
    rep = build(results)
    out.mkdir(parents=True, exist_ok=True)
    draw_chart(rep["runs"], out / "bench.png", rep["machine"])
    (out / "report.json").write_text(json.dumps(rep, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (out / "REPORT.md").write_text(markdown(rep), encoding="utf-8")
    return rep


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Combine the parts' JSONs in bench/results/ into one report and a chart"
    )
    ap.add_argument("--results", type=Path, default=RESULTS, help="where the parts' JSON files are")
    ap.add_argument(
        "--out", type=Path, help="where REPORT.md, report.json and bench.png go (default: --results)"
    )
    a = ap.parse_args(argv)
    out = a.out or a.results
    rep = write(a.results, out)
    s = rep["summary"]
    print(
        f"Report: {out}/REPORT.md, report.json, bench.png — {s['pass']} ✔, {s['fail']} ✘, {s['info']} info; "
        f"{rep['machine']['cores_logical']} cores shared by the load generator, the servers and PostgreSQL"
    )
    for p in rep["parts"]:
        if p.get("stale"):
            print(f"  {p['part']}: {p['status']} ({p.get('commit')}, {p.get('date')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
