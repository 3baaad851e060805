"""The handling units and the handling-standards table, as shipped data (versioned in the repo).

`data/departments.tsv` holds the 23 handling units (codes are contracts other services rely on);
`data/standards_part*.csv` hold the 285 handling standards (事项处置标准), one row per matter, in the
shape of a local 立案/结案标准 table. A migration loads them; this module reads and checks them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
STANDARD_COLUMNS = (
    "code",
    "category_l1",
    "category_l2",
    "title",
    "filing_condition",
    "closing_condition",
    "keywords",
    "examples",
    "unit",
    "level",
    "response_hours",
    "handling_hours",
    "urgency",
    "verify_on_site",
    "channel_rule",
)
LEVELS = ("community", "street", "district")
URGENCIES = ("normal", "urgent", "emergency")
CHANNEL_RULES = ("direct", "verify_first")


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    short_name: str
    scope: str


@dataclass(frozen=True)
class Standard:
    code: str
    category_l1: str
    category_l2: str
    title: str
    filing_condition: str
    closing_condition: str
    keywords: tuple[str, ...]
    examples: tuple[str, ...]
    unit: str
    level: str
    response_hours: float
    handling_hours: float
    urgency: str
    verify_on_site: bool
    channel_rule: str


def load_departments(path: Path = DATA / "departments.tsv") -> list[Department]:
    with path.open(encoding="utf-8", newline="") as f:
        return [
            Department(r["code"], r["name"], r["short_name"], r["scope"])
            for r in csv.DictReader(f, delimiter="\t")
        ]


def load_standards(paths: list[Path] | None = None) -> list[Standard]:
    """Every shipped standard, checked: a bad row names its file, line and problem."""
    units = {d.code for d in load_departments()}
    out: list[Standard] = []
    seen: dict[str, str] = {}
    titles: dict[str, str] = {}
    for path in paths or sorted(DATA.glob("standards_part*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            if tuple(reader.fieldnames or ()) != STANDARD_COLUMNS:
                raise ValueError(f"{path.name}: header must be {','.join(STANDARD_COLUMNS)}")
            for line, r in enumerate(reader, start=2):
                where = f"{path.name}:{line}"
                try:
                    s = Standard(
                        code=r["code"],
                        category_l1=r["category_l1"],
                        category_l2=r["category_l2"],
                        title=r["title"],
                        filing_condition=r["filing_condition"],
                        closing_condition=r["closing_condition"],
                        keywords=tuple(k.strip() for k in r["keywords"].split("|") if k.strip()),
                        examples=tuple(e.strip() for e in r["examples"].split("|") if e.strip()),
                        unit=r["unit"],
                        level=r["level"],
                        response_hours=float(r["response_hours"]),
                        handling_hours=float(r["handling_hours"]),
                        urgency=r["urgency"],
                        verify_on_site={"true": True, "false": False}[r["verify_on_site"].strip().lower()],
                        channel_rule=r["channel_rule"],
                    )
                except (KeyError, ValueError) as exc:
                    raise ValueError(f"{where}: {exc!r}") from None
                problems = []
                if not (len(s.code) == 6 and s.code.isdigit()):
                    problems.append("code is 6 digits")
                if s.code in seen:
                    problems.append(f"code repeats {seen[s.code]}")
                if s.title in titles:
                    problems.append(f"title repeats {titles[s.title]}")
                if s.unit not in units:
                    problems.append(f"unknown unit {s.unit}")
                if s.level not in LEVELS or s.urgency not in URGENCIES or s.channel_rule not in CHANNEL_RULES:
                    problems.append("level, urgency or channel_rule out of range")
                if not 0 < s.response_hours <= s.handling_hours:
                    problems.append("0 < response_hours <= handling_hours")
                if len(s.keywords) < 5 or not s.examples:
                    problems.append("at least 5 keywords and 1 example")
                if problems:
                    raise ValueError(f"{where}: " + "; ".join(problems))
                seen[s.code] = titles[s.title] = where
                out.append(s)
    return out
