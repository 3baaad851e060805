from __future__ import annotations

import csv
import io
from datetime import date

from openpyxl import Workbook
from sqlalchemy import func, select

from services.registry.models import Household, Resident
from tests.registry.builders import id_number

ADMIN = ("district_admin", "320411")
HEADER = ["楼栋编码", "单元", "房号", "姓名", "性别", "身份证号", "联系电话", "与户主关系", "标签"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _rows(world, n=3, start=700):
    out = []
    for i in range(n):
        num = id_number(date(1985, 1 + i % 12, 1 + i % 27), start + i)
        gender = "男" if int(num[16]) % 2 else "女"
        out.append(
            [
                world.buildings[i % 2].code,
                "3",
                f"{500 + i}",
                f"导入{i}",
                gender,
                num,
                f"1370000{i:04d}",
                "户主",
                "志愿者、党员" if i == 0 else "",
            ]
        )
    return out


def _csv(rows, header=HEADER, encoding="utf-8-sig") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode(encoding)


def _xlsx(rows, header=HEADER) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


async def _upload(registry, token, content: bytes, name="台账.csv", who=ADMIN, ctype="text/csv"):
    return await registry.post(
        "/api/v1/imports/residents", headers=token(*who), files={"file": (name, content, ctype)}
    )


async def _count(session):
    return (await session.execute(select(func.count()).select_from(Resident))).scalar_one()


class TestImportCommitsWhole:
    async def test_csv_creates_households_and_residents(self, registry, world, token, session):
        before = await _count(session)
        rows = _rows(world, 6)
        rows.append(
            [
                world.buildings[0].code,
                "3",
                "500",
                "同户人",
                "女",
                id_number(date(1987, 2, 2), 820),
                "",
                "配偶",
                "",
            ]
        )
        r = await _upload(registry, token, _csv(rows))
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["rows"] == 7 and body["residents_created"] == 7 and body["households_created"] == 6
        assert await _count(session) == before + 7
        lookup = await registry.post(
            "/api/v1/residents/lookup", json={"id_number": rows[0][5]}, headers=token(*ADMIN)
        )
        assert lookup.json()["tags"] == ["志愿者", "党员"]
        assert lookup.json()["name"] == "导入0"

    async def test_gbk_csv_is_read(self, registry, world, token, session):
        r = await _upload(registry, token, _csv(_rows(world, 2), encoding="gbk"))
        assert r.status_code == 201, r.text
        assert r.json()["residents_created"] == 2

    async def test_xlsx_is_read(self, registry, world, token):
        r = await _upload(registry, token, _xlsx(_rows(world, 3)), name="台账.xlsx", ctype=XLSX)
        assert r.status_code == 201, r.text
        assert r.json()["residents_created"] == 3

    async def test_header_aliases_and_column_order_are_accepted(self, registry, world, token):
        header = ["姓名", "公民身份号码", "楼栋编码", "门牌号"]
        rows = [[x[3], x[5], x[0], x[2]] for x in _rows(world, 2)]
        r = await _upload(registry, token, _csv(rows, header=header))
        assert r.status_code == 201, r.text


class TestImportRefusesWhole:
    async def test_every_bad_row_is_reported_and_nothing_is_written(self, registry, world, token, session):
        before = (
            await _count(session),
            (await session.execute(select(func.count()).select_from(Household))).scalar_one(),
        )
        rows = _rows(world, 5)
        rows[1][5] = rows[1][5][:17] + ("0" if rows[1][5][17] != "0" else "1")  # wrong check digit
        rows[2][0] = "NO-SUCH-BUILDING"
        rows[3][6] = "12345"  # bad phone
        rows[4][5] = rows[0][5]  # same number as row 2
        rows.append([world.buildings[0].code, "3", "599", "老住户", "男", world.numbers[0], "", "户主", ""])
        r = await _upload(registry, token, _csv(rows))
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        body = r.json()
        errs = {(e["row"], e["column"]) for e in body["errors"]}
        assert {(3, "身份证号"), (4, "楼栋编码"), (5, "联系电话"), (6, "身份证号"), (7, "身份证号")} <= errs
        assert body["error_count"] == len(body["errors"]) == 5
        assert "Nothing was imported" in body["detail"]
        after = (
            await _count(session),
            (await session.execute(select(func.count()).select_from(Household))).scalar_one(),
        )
        assert after == before

    async def test_wrong_headers_say_what_is_expected(self, registry, world, token):
        r = await _upload(registry, token, _csv(_rows(world, 1), header=["name", "id", "building", "room"]))
        assert r.status_code == 422
        assert "楼栋编码" in r.json()["detail"]
        assert {e["column"] for e in r.json()["errors"]} == {"楼栋编码", "房号", "姓名", "身份证号"}

    async def test_formula_cells_are_refused(self, registry, world, token):
        rows = _rows(world, 2)
        rows[1][3] = '=HYPERLINK("http://evil","x")'
        r = await _upload(registry, token, _xlsx(rows), name="台账.xlsx", ctype=XLSX)
        assert r.status_code == 422
        assert r.json()["errors"][0] == {
            "row": 3,
            "column": "姓名",
            "reason": "cell holds a formula; paste values only",
        }

    async def test_numbers_stored_as_numbers_are_refused(self, registry, world, token):
        rows = _rows(world, 1)
        rows[0][5] = 320411198501017003  # what Excel holds after typing the number without a leading '
        rows[0][6] = 13700001234  # an 11-digit phone survives as a number, and is accepted
        r = await _upload(registry, token, _xlsx(rows), name="台账.xlsx", ctype=XLSX)
        assert r.status_code == 422
        assert r.json()["errors"] == [
            {
                "row": 2,
                "column": "身份证号",
                "reason": "stored as a number, which loses digits; format the column as text",
            }
        ]

    async def test_zero_rows_is_refused(self, registry, world, token):
        r = await _upload(registry, token, _csv([]))
        assert r.status_code == 422
        assert "no data rows" in r.json()["detail"]

    async def test_empty_file_is_refused(self, registry, world, token):
        r = await _upload(registry, token, b"")
        assert r.status_code == 422

    async def test_binary_garbage_is_415(self, registry, world, token):
        r = await _upload(registry, token, b"\x00\x01\x02binary" * 10, name="x.csv")
        assert r.status_code == 415

    async def test_old_xls_is_415_with_advice(self, registry, world, token):
        r = await _upload(registry, token, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, name="x.xls")
        assert r.status_code == 415
        assert ".xlsx" in r.json()["detail"]

    async def test_rows_outside_the_importers_scope_are_refused(self, registry, world, token, session):
        before = await _count(session)
        rows = _rows(world, 2)
        rows[1][0] = world.buildings[4].code  # grid 3, another street
        r = await _upload(registry, token, _csv(rows), who=("grid_worker", world.grids[0].code))
        assert r.status_code == 422
        reasons = [e["reason"] for e in r.json()["errors"]]
        assert any("outside your scope" in x for x in reasons)
        assert await _count(session) == before

    async def test_oversized_upload_is_413(self, registry, registry_app, world, token):
        limit = registry_app.state.settings.import_max_bytes
        registry_app.state.settings.import_max_bytes = limit  # the middleware read it at build time
        big = b"x" * (limit + 1)
        r = await registry.post(
            "/api/v1/imports/residents",
            headers={**token(*ADMIN), "content-length": str(len(big))},
            content=big,
        )
        assert r.status_code == 413
        assert r.headers["content-type"] == "application/problem+json"

    async def test_department_handlers_cannot_import(self, registry, world, token):
        r = await _upload(registry, token, _csv(_rows(world, 1)), who=("department_handler", "CGJ"))
        assert r.status_code == 403


class TestExport:
    async def test_csv_export_round_trips_through_import_format(self, registry, world, token):
        r = await registry.get(
            "/api/v1/exports/residents",
            params={"area_code": world.communities[0].code},
            headers=token(*ADMIN),
        )
        assert r.status_code == 200
        text = r.content.decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0] == HEADER
        assert len(rows) - 1 == sum(
            1 for x in world.residents if x.area_code.startswith(world.communities[0].code)
        )
        assert all("*" in row[5] for row in rows[1:])  # masked by default

    async def test_revealed_export_has_full_numbers(self, registry, world, token):
        r = await registry.get(
            "/api/v1/exports/residents",
            params={"area_code": world.grids[0].code, "reveal": "true"},
            headers=token(*ADMIN),
        )
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))[1:]
        assert {row[5] for row in rows} <= set(world.numbers)

    async def test_xlsx_export(self, registry, world, token):
        from openpyxl import load_workbook

        r = await registry.get(
            "/api/v1/exports/residents",
            params={"area_code": world.grids[0].code, "format": "xlsx"},
            headers=token(*ADMIN),
        )
        assert r.status_code == 200
        ws = load_workbook(io.BytesIO(r.content)).active
        assert [c.value for c in ws[1]] == HEADER
        assert ws.max_row == 1 + 8

    async def test_export_outside_scope_is_403(self, registry, world, token):
        r = await registry.get(
            "/api/v1/exports/residents",
            params={"area_code": world.grids[1].code},
            headers=token("grid_worker", world.grids[0].code),
        )
        assert r.status_code == 403

    async def test_template_has_the_headers(self, registry, world, token):
        r = await registry.get("/api/v1/imports/residents/template")
        assert r.content.decode("utf-8-sig").strip() == ",".join(HEADER)
