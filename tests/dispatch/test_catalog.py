"""The shipped handling units and handling-standards table."""

from __future__ import annotations

from collections import Counter

from services.dispatch.catalog import load_departments, load_standards

UNITS = (
    "CGJ SCJ GAJ JJD XFD ZJJ STJ YJJ SWJ YLJ SZC JTJ WJW JYJ RSJ MZJ GZJ WLJ YBJ GSGS GDGS RQGS DXGS"
).split()


def test_the_23_handling_units_are_the_contract_codes():
    assert [d.code for d in load_departments()] == UNITS


def test_exactly_285_standards_and_every_unit_has_at_least_5():
    standards = load_standards()
    assert len(standards) == 285
    per_unit = Counter(s.unit for s in standards)
    assert set(per_unit) == set(UNITS)
    assert min(per_unit.values()) >= 5, per_unit


def test_every_level_and_urgency_is_used():
    standards = load_standards()
    assert {s.level for s in standards} == {"community", "street", "district"}
    assert {s.urgency for s in standards} == {"normal", "urgent", "emergency"}
    emergencies = [s for s in standards if s.urgency == "emergency"]
    assert all(s.response_hours <= 1 for s in emergencies)
