"""The weekly review over HTTP: formats, roles and a bad week (the figures are in test_report.py)."""

from __future__ import annotations

import io

import openpyxl
import pytest

pytestmark = pytest.mark.asyncio

URL = "/api/v1/reports/weekly"


class TestWeeklyReviewEndpoint:
    async def test_json_xlsx_and_svg_for_a_district_admin(self, dispatch, token):
        h = token("district_admin", "320411")
        r = await dispatch.get(URL, params={"week": "2026-W47"}, headers=h)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["week"] == "2026-W47" and len(body["units"]) == 23
        r = await dispatch.get(URL, params={"week": "2026-W47", "format": "xlsx"}, headers=h)
        assert r.status_code == 200
        assert "weekly-review-2026-W47.xlsx" in r.headers["content-disposition"]
        assert set(openpyxl.load_workbook(io.BytesIO(r.content)).sheetnames) >= {"单位", "街道", "红黑榜"}
        r = await dispatch.get(URL, params={"week": "2026-W47", "format": "svg"}, headers=h)
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
        assert r.text.lstrip().startswith(("<svg", "<?xml"))

    async def test_a_week_that_does_not_exist_is_a_422_problem(self, dispatch, token):
        r = await dispatch.get(URL, params={"week": "2026-W54"}, headers=token("district_admin", "320411"))
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"].endswith("/invalid-week") and "2026-W54" in r.json()["detail"]

    async def test_a_malformed_week_is_a_validation_problem(self, dispatch, token):
        r = await dispatch.get(URL, params={"week": "47"}, headers=token("district_admin", "320411"))
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "week"]

    async def test_grid_workers_and_handlers_may_not_read_it(self, dispatch, token):
        for h in (token("grid_worker", "320411001001001"), token("department_handler", "CGJ")):
            r = await dispatch.get(URL, params={"week": "2026-W47"}, headers=h)
            assert r.status_code == 403
