"""bench/report.py builds the one `make bench` report from the parts' committed JSONs (no database)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from bench import report

RESULTS = Path(__file__).resolve().parent.parent / "bench" / "results"
PART_FILES = ["registry.json", "dispatch.json", "hotline.json", "wishes.json", "mobile.json"]

# every figure the service issues ask for: (part, a piece of the figure's name, how many rows: a number, or
# the JSON key whose runs (one per concurrency or view) each give a row)
FIGURES = [
    ("registry", "Locate GET /api/v1/locate @32", 1),
    ("registry", "residents (CSV, default settings)", 1),
    ("registry", "Import peak RSS", "import_csv"),
    ("registry", "Lookup by id number @", "lookup"),
    ("dispatch", "Routing quality", 1),
    ("dispatch", "Routing speed", 1),
    ("dispatch", "Ticket intake POST /api/v1/tickets @32", 2),
    ("dispatch", "Weekly report over", 1),
    ("hotline", "Signed 12345 order intake", 1),
    ("hotline", "Outbox drain", 1),
    ("hotline", "Outage: receiver down", "outage"),
    ("wishes", "Claim race", 1),
    ("wishes", "Redemptions: 100 at once", "redemptions"),
    ("wishes", "Wish wall GET /api/v1/wishes/wall @", "wall"),
    ("mobile", "My tickets GET /m/v1/tickets?limit=20 @", "list"),
    ("mobile", "Report with one ~1 MB photo POST /m/v1/reports @", "reports"),
]


def _expected(part: str, count: int | str) -> int:
    if isinstance(count, int):
        return count
    d = json.loads((RESULTS / f"{part}.json").read_text(encoding="utf-8"))
    if count == "import_csv":
        return sum("peak_rss_mb" in d.get(k, {}) for k in ("import_csv", "import_csv_retry"))
    if count == "outage":
        return 1 + ("outage_short_cap" in d)
    if count == "redemptions":
        return len({r["bound"] for r in d["redemptions"]["rounds_detail"]})
    if count == "wall":
        return sum(len(v) for v in d["wall"].values())
    return len(d[count])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    if not all((RESULTS / f).exists() for f in PART_FILES):
        pytest.skip("the parts' JSON files are not in bench/results/")
    out = tmp_path_factory.mktemp("bench-report")
    assert report.main(["--results", str(RESULTS), "--out", str(out)]) == 0
    return out, json.loads((out / "report.json").read_text(encoding="utf-8"))


def test_every_figure_with_value_target_result_and_ratio(built: tuple[Path, dict]) -> None:
    out, rep = built
    md = (out / "REPORT.md").read_text(encoding="utf-8")
    rows = rep["figures"]
    for part, name, count in FIGURES:
        found = [r for r in rows if r["part"] == part and name in r["figure"]]
        assert len(found) == _expected(part, count) >= 1, (part, name, [r["figure"] for r in rows])
        for r in found:
            assert r["value"] and not r["value"].startswith("not measured"), r
            assert r["target"] not in ("", "—"), r
            assert r["ok"] in (True, False), r
            assert r["ratio"] and r["ratio"] != "—", r
            assert r["figure"].replace("|", "\\|") in md
    # load figures carry their ratios as numbers, and say which part's baselines they use
    insert = json.loads((RESULTS / "dispatch.json").read_text(encoding="utf-8"))["baseline_insert"]
    intake = next(r for r in rows if r["figure"].startswith("Ticket intake"))
    assert intake["rps_x_insert"] == pytest.approx(intake["rps"] / insert["rps"], rel=1e-3)
    assert "[D@32]" in intake["ratio"]
    assert md.count("| **✔** |") + md.count("| **✘** |") >= sum(n for *_, n in FIGURES if isinstance(n, int))


def test_machine_sharing_parts_and_baselines(built: tuple[Path, dict]) -> None:
    out, rep = built
    md = (out / "REPORT.md").read_text(encoding="utf-8")
    cores = rep["machine"]["cores_logical"]
    assert isinstance(cores, int) and cores >= 1
    assert f"**Machine: {cores} cores**" in md
    assert "share its cores" in md
    assert [p["part"] for p in rep["parts"]] == ["registry", "dispatch", "hotline", "wishes", "mobile"]
    for p in rep["parts"]:
        assert p["date"] and p["commit"] and p["status"], p
        assert p["baselines"]["insert@32"]["rps"] > 0, p
        assert p["date"] in md and p["commit"] in md
    assert rep["parts"][0]["baselines"]["healthz@32"]["rps"] > 0  # registry's own healthz
    assert "REGISTRY.md" in md


def test_chart_is_a_png_with_every_load_run(built: tuple[Path, dict]) -> None:
    out, rep = built
    with Image.open(out / "bench.png") as im:
        assert im.format == "PNG"
        assert im.width > 800 and im.height > 600
    labels = [r["label"] for r in rep["runs"]]
    assert len(labels) == len(set(labels))
    assert sum(r["baseline"] for r in rep["runs"]) >= 5
    assert any("report + photo @32" in x for x in labels) and any("locate @32" in x for x in labels)


def test_a_missing_part_is_reported_not_hidden(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    for f in PART_FILES[:-1]:
        if (RESULTS / f).exists():
            shutil.copy(RESULTS / f, results / f)
    rep = report.build(results)
    mobile = [r for r in rep["figures"] if r["part"] == "mobile"]
    assert len(mobile) == 1 and mobile[0]["ok"] is False and "not measured" in mobile[0]["value"]
    assert rep["parts"][-1]["stale"] and "not run" in rep["parts"][-1]["status"]
    assert "not measured: no mobile.json" in report.markdown(rep)


def test_a_part_stays_current_until_a_commit_changes_measured_code(tmp_path, monkeypatch):
    """Commits that touch only tests, docs or the results leave a part's figures current; one that
    touches a service marks them stale, saying how many measured files changed."""
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    git("init", "-q")
    for path in ("services/a.py", "tests/test_a.py", "README.md", "bench/results/R.md"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("v1\n")
    git("add", ".")
    git("commit", "-qm", "measured")
    measured = git("rev-parse", "--short", "HEAD")
    monkeypatch.setattr(report, "ROOT", tmp_path)
    assert report.commit_status(measured, report.head_commit()) == ("current", False)
    for path in ("tests/test_a.py", "README.md", "bench/results/R.md"):
        (tmp_path / path).write_text("v2\n")
        git("commit", "-qam", f"touch {path}")
    status, stale = report.commit_status(measured, report.head_commit())
    assert (status, stale) == ("3 commit(s) behind HEAD, none changing measured code", False)
    (tmp_path / "services/a.py").write_text("v2\n")
    git("commit", "-qam", "a service changes")
    status, stale = report.commit_status(measured, report.head_commit())
    assert stale and status.startswith("⚠ older: 4 commit(s) behind HEAD, 1 measured file(s) changed")
    assert report.commit_status(measured + "-dirty", report.head_commit())[0].endswith(
        "(uncommitted changes at the time)"
    )
