"""Bulk import and export of the resident ledger (民情台账) as .xlsx or .csv (UTF-8 or GBK).

An import commits whole or not at all. Rows are parsed and checked in a worker thread, batch by
batch (the event loop keeps serving), streamed with COPY into a temporary staging table, checked
again as a set in SQL (unknown or out-of-scope buildings, numbers repeated in the file or already
registered), and only then turned into households and residents — all in the request's transaction.
Every bad row is reported with its row number, column and reason.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import IO, Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import scope as sc
from services.registry.crypto import IdNumberError, mask_phone, normalize_phone, parse_id_number
from services.registry.errors import ImportRejected, UnsupportedFile
from services.registry.schemas import RELATIONS, RESIDENT_TAGS
from services.registry.service.people import HOUSEHOLD_CODE_MAX, PiiCodec
from shared.auth import Principal

COLUMNS = ("楼栋编码", "单元", "房号", "姓名", "性别", "身份证号", "联系电话", "与户主关系", "标签")
REQUIRED = ("楼栋编码", "房号", "姓名", "身份证号")
ALIASES = {
    "身份证号码": "身份证号",
    "公民身份号码": "身份证号",
    "手机号": "联系电话",
    "电话": "联系电话",
    "手机号码": "联系电话",
    "单元号": "单元",
    "门牌号": "房号",
    "室号": "房号",
    "人员标签": "标签",
    "关系": "与户主关系",
    "楼栋代码": "楼栋编码",
}
BATCH = 5000
_TAG_SET = frozenset(RESIDENT_TAGS)
_REL_SET = frozenset(RELATIONS)
_GENDER = {"男": "M", "女": "F", "M": "M", "F": "F"}


@dataclass
class RowErrors:
    limit: int
    items: list[dict[str, Any]] = field(default_factory=list)
    count: int = 0

    def add(self, row: int, column: str | None, reason: str) -> None:
        self.count += 1
        if len(self.items) < self.limit:
            self.items.append({"row": row, "column": column, "reason": reason})


class _Formula:
    """Marks a spreadsheet cell that holds a formula rather than a value."""


FORMULA = _Formula()


def _detect_encoding(f: IO[bytes]) -> str:
    dec = codecs.getincrementaldecoder("utf-8")()
    f.seek(0)
    try:
        while chunk := f.read(1 << 20):
            dec.decode(chunk)
        dec.decode(b"", final=True)
        return "utf-8-sig"
    except UnicodeDecodeError:
        return "gb18030"  # a superset of GBK, which Excel in Chinese locales writes
    finally:
        f.seek(0)


def open_rows(f: IO[bytes], filename: str | None) -> Iterator[list[Any]]:
    """Rows of cells from an .xlsx or .csv upload, detected by content rather than by name."""
    f.seek(0)
    head = f.read(8)
    f.seek(0)
    if head.startswith(b"PK\x03\x04"):
        return _xlsx_rows(f)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnsupportedFile("This is an old .xls workbook; save it as .xlsx (or CSV) and upload again.")
    sample = f.read(4096)
    f.seek(0)
    if b"\x00" in sample:
        raise UnsupportedFile("The file is neither an .xlsx workbook nor CSV text.")
    enc = _detect_encoding(f)
    wrapper = io.TextIOWrapper(f, encoding=enc, newline="")
    return iter(csv.reader(wrapper))


def _xlsx_rows(f: IO[bytes]) -> Iterator[list[Any]]:
    from openpyxl import load_workbook  # heavy import; only for workbooks

    try:
        wb = load_workbook(f, read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise UnsupportedFile(
            f"The workbook could not be read ({type(exc).__name__}); save it again as .xlsx."
        ) from None
    ws = wb.worksheets[0]

    def gen() -> Iterator[list[Any]]:
        try:
            for row in ws.iter_rows():
                yield [FORMULA if getattr(c, "data_type", None) == "f" else c.value for c in row]
        finally:
            wb.close()

    return gen()


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


class RowChecker:
    """Turns raw cells into staging records, or row errors."""

    def __init__(self, header: list[Any], codec: PiiCodec, errors: RowErrors) -> None:
        names = [ALIASES.get(_cell(h), _cell(h)) for h in header]
        self.index: dict[str, int] = {}
        for i, n in enumerate(names):
            if n in COLUMNS and n not in self.index:
                self.index[n] = i
        missing = [c for c in REQUIRED if c not in self.index]
        if missing:
            raise ImportRejected(
                f"Row 1 must hold the column headers; missing {', '.join(missing)}. Expected headers: "
                f"{', '.join(COLUMNS)} (required: {', '.join(REQUIRED)}).",
                errors=[
                    {"row": 1, "column": c, "reason": "required column header is missing"} for c in missing
                ],
                error_count=len(missing),
            )
        self.codec = codec
        self.errors = errors
        self.today = date.today()

    def check(self, row_no: int, cells: list[Any]) -> tuple[Any, ...] | None:
        ok = True
        err = self.errors.add
        get: dict[str, Any] = {}
        for col, i in self.index.items():
            v = cells[i] if i < len(cells) else None
            if v is FORMULA:
                err(row_no, col, "cell holds a formula; paste values only")
                ok = False
                v = None
            elif col == "身份证号" and isinstance(v, int | float) and not isinstance(v, bool):
                # Excel keeps 15 significant digits: an 18-digit number typed as a number is already wrong.
                err(row_no, col, "stored as a number, which loses digits; format the column as text")
                ok = False
                v = None
            elif isinstance(v, str) and "\x00" in v:
                err(row_no, col, "contains a NUL character")
                ok = False
                v = None
            get[col] = v
        building = _cell(get.get("楼栋编码"))
        unit = _cell(get.get("单元"))
        room = _cell(get.get("房号"))
        name = _cell(get.get("姓名"))
        id_raw = _cell(get.get("身份证号"))
        for col, v, mx in (("楼栋编码", building, 32), ("房号", room, 16), ("姓名", name, 50)):
            if not v:
                err(row_no, col, "required value is empty")
                ok = False
            elif len(v) > mx:
                err(row_no, col, f"longer than {mx} characters")
                ok = False
        if len(unit) > 8 or (unit and not unit.isalnum()):
            err(row_no, "单元", "unit is up to 8 letters or digits")
            ok = False
        if room and not room.replace("-", "").isalnum():
            err(row_no, "房号", "room number is letters, digits and '-'")
            ok = False
        # the household code is building-unit-room and has to fit its column (else the insert fails)
        if ok and len(building) + (len(unit) + 1 if unit else 0) + 1 + len(room) > HOUSEHOLD_CODE_MAX:
            err(row_no, "房号", f"building-unit-room is over {HOUSEHOLD_CODE_MAX} characters")
            ok = False
        if name and name[0] in "=+@":
            err(row_no, "姓名", "looks like a formula; names start with a letter")
            ok = False
        number = born = gender = None
        if id_raw:
            try:
                number, born, gender = parse_id_number(id_raw)
            except IdNumberError as exc:
                err(row_no, "身份证号", str(exc))
                ok = False
        elif ok:
            err(row_no, "身份证号", "required value is empty")
            ok = False
        g = _cell(get.get("性别"))
        if g:
            if g not in _GENDER:
                err(row_no, "性别", "write 男 or 女")
                ok = False
            elif gender and _GENDER[g] != gender:
                err(row_no, "性别", f"{g} does not match the identity number's gender digit")
                ok = False
        phone = _cell(get.get("联系电话")) or None
        if phone:
            try:
                phone = normalize_phone(phone)
            except ValueError as exc:
                err(row_no, "联系电话", str(exc))
                ok = False
        rel = _cell(get.get("与户主关系")) or "其他"
        if rel not in _REL_SET:
            err(row_no, "与户主关系", f"must be one of {'、'.join(RELATIONS)}")
            ok = False
        tags_raw = _cell(get.get("标签"))
        tags: list[str] = []
        if tags_raw:
            for t in tags_raw.replace("，", ",").replace("、", ",").replace(";", ",").split(","):
                t = t.strip()
                if not t:
                    continue
                if t not in _TAG_SET:
                    err(row_no, "标签", f"unknown tag {t!r}; tags are {'、'.join(RESIDENT_TAGS)}")
                    ok = False
                elif t not in tags:
                    tags.append(t)
        if not ok or number is None:
            return None
        id_hash, cipher, masked = self.codec.seal_id(number)
        return (row_no, building, unit, room, name, gender, born, id_hash, cipher, masked, phone, rel, tags)


STAGE_COLUMNS = [
    "row_no",
    "building_code",
    "unit_no",
    "room_no",
    "name",
    "gender",
    "birth_date",
    "id_hash",
    "id_cipher",
    "id_masked",
    "phone",
    "relation",
    "tags",
]


def _next_batch(
    rows: Iterator[list[Any]], checker: RowChecker, start_row: int
) -> tuple[list[tuple], int, bool]:
    batch: list[tuple] = []
    row_no = start_row
    for cells in rows:
        row_no += 1
        if not any(c not in (None, "") for c in cells):
            continue  # blank lines are not rows
        rec = checker.check(row_no, cells)
        if rec is not None:
            batch.append(rec)
        if row_no - start_row >= BATCH:
            return batch, row_no, False
    return batch, row_no, True


async def import_residents(
    session: AsyncSession,
    principal: Principal,
    codec: PiiCodec,
    f: IO[bytes],
    filename: str | None,
    *,
    max_errors: int,
    statement_timeout_ms: int = 30 * 60 * 1000,
) -> dict[str, Any]:
    sc.require_role(principal, sc.PLACE_WRITERS, "import residents")
    t0 = time.perf_counter()
    rows = await asyncio.to_thread(open_rows, f, filename)
    try:
        # StopIteration cannot cross a thread's future, so ask for a default instead.
        header = await asyncio.to_thread(next, rows, None)
    except UnicodeDecodeError:
        raise UnsupportedFile("The CSV text is neither UTF-8 nor GBK.") from None
    if header is None:
        raise ImportRejected(
            "The file is empty; row 1 must hold the column headers.", errors=[], error_count=0
        )
    errors = RowErrors(max_errors)
    checker = RowChecker(header, codec, errors)

    conn = await session.connection()
    # The usual per-statement timeout guards interactive requests; an import's set-based steps are
    # meant to run long, and only for this transaction.
    await conn.execute(text(f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}"))
    raw = (await conn.get_raw_connection()).driver_connection
    await conn.execute(
        text("""
        CREATE TEMP TABLE import_stage (
            row_no int, building_code text, unit_no text, room_no text, name text, gender text,
            birth_date date, id_hash bytea, id_cipher text, id_masked text, phone text, relation text,
            tags text[]) ON COMMIT DROP""")
    )
    row_no, done, staged = 1, False, 0
    while not done:
        try:
            batch, row_no, done = await asyncio.to_thread(_next_batch, rows, checker, row_no)
        except UnicodeDecodeError:
            raise UnsupportedFile("The CSV text is neither UTF-8 nor GBK.") from None
        except csv.Error as exc:
            raise ImportRejected(
                f"The CSV is malformed near row {row_no}: {exc}.", errors=[], error_count=1
            ) from None
        if batch:
            await raw.copy_records_to_table("import_stage", records=batch, columns=STAGE_COLUMNS)
            staged += len(batch)
    data_rows = row_no - 1
    if data_rows == 0 or (staged == 0 and errors.count == 0):
        raise ImportRejected("The file has headers but no data rows.", errors=[], error_count=0)

    await conn.execute(text("CREATE INDEX ON import_stage (building_code)"))
    await conn.execute(text("ANALYZE import_stage"))
    for r in (
        await conn.execute(
            text("""
        SELECT s.row_no, s.building_code FROM import_stage s
        LEFT JOIN registry.building b ON b.code = s.building_code WHERE b.id IS NULL
        ORDER BY s.row_no LIMIT :lim"""),
            {"lim": max_errors},
        )
    ).all():
        errors.add(r.row_no, "楼栋编码", f"no building with code {r.building_code}")
    if principal.area_scoped:
        for r in (
            await conn.execute(
                text("""
            SELECT s.row_no, b.area_code FROM import_stage s JOIN registry.building b ON b.code = s.building_code
            WHERE NOT (b.area_code LIKE ANY (:pats)) ORDER BY s.row_no LIMIT :lim"""),
                {"pats": [f"{c}%" for c in principal.scope], "lim": max_errors},
            )
        ).all():
            errors.add(r.row_no, "楼栋编码", f"building is in area {r.area_code}, outside your scope")
    for r in (
        await conn.execute(
            text("""
        SELECT row_no, first_row FROM (
            SELECT row_no, min(row_no) OVER (PARTITION BY id_hash) AS first_row FROM import_stage) d
        WHERE row_no <> first_row ORDER BY row_no LIMIT :lim"""),
            {"lim": max_errors},
        )
    ).all():
        errors.add(r.row_no, "身份证号", f"same identity number as row {r.first_row}")
    for r in (
        await conn.execute(
            text("""
        SELECT s.row_no, r.id FROM import_stage s JOIN registry.resident r ON r.id_hash = s.id_hash
        ORDER BY s.row_no LIMIT :lim"""),
            {"lim": max_errors},
        )
    ).all():
        errors.add(r.row_no, "身份证号", f"already registered as resident {r.id}; move them instead")
    if errors.count:
        items = sorted(errors.items, key=lambda e: (e["row"], e["column"] or ""))
        raise ImportRejected(
            f"{errors.count} problem(s) in {data_rows} rows; fix them and upload again. Nothing was imported.",
            errors=items,
            error_count=errors.count,
            truncated=errors.count > len(items),
        )

    households = (
        await conn.execute(
            text("""
        INSERT INTO registry.household (code, building_id, area_code, unit_no, room_no, occupancy)
        SELECT DISTINCT ON (b.id, s.unit_no, s.room_no)
               b.code || '-' || CASE WHEN s.unit_no <> '' THEN s.unit_no || '-' ELSE '' END || s.room_no,
               b.id, b.area_code, s.unit_no, s.room_no, 'owner'
        FROM import_stage s JOIN registry.building b ON b.code = s.building_code
        ON CONFLICT (building_id, unit_no, room_no) DO NOTHING""")
        )
    ).rowcount
    residents = (
        await conn.execute(
            text("""
        INSERT INTO registry.resident (household_id, area_code, name, gender, birth_date, id_hash, id_cipher,
                                       id_masked, phone, relation, tags)
        SELECT h.id, h.area_code, s.name, s.gender, s.birth_date, s.id_hash, s.id_cipher, s.id_masked,
               s.phone, s.relation, s.tags
        FROM import_stage s
        JOIN registry.building b ON b.code = s.building_code
        JOIN registry.household h ON h.building_id = b.id AND h.unit_no = s.unit_no AND h.room_no = s.room_no
        ORDER BY s.row_no""")
        )
    ).rowcount
    await conn.execute(text("DROP TABLE import_stage"))
    return {
        "rows": data_rows,
        "households_created": households,
        "residents_created": residents,
        "seconds": round(time.perf_counter() - t0, 3),
    }


_EXPORT_SQL = text("""
    SELECT b.code AS building_code, h.unit_no, h.room_no, r.name, r.gender, r.id_masked, r.id_cipher, r.phone,
           r.relation, r.tags
    FROM registry.resident r
    JOIN registry.household h ON h.id = r.household_id
    JOIN registry.building b ON b.id = h.building_id
    WHERE r.area_code >= :lo AND r.area_code < :hi
    ORDER BY r.area_code, b.code, h.unit_no, h.room_no, r.id
""")


def export_row(r: Any, codec: PiiCodec | None) -> list[str]:
    """One ledger row in import order; full numbers only when `codec` is given (an audited reveal)."""
    number = codec.open_id(r.id_cipher) if codec else r.id_masked
    phone = r.phone or ""
    if codec is None and phone:
        phone = mask_phone(phone) or ""
    return [
        r.building_code,
        r.unit_no,
        r.room_no,
        r.name,
        "男" if r.gender == "M" else "女",
        number,
        phone,
        r.relation,
        "、".join(r.tags or []),
    ]


def export_bounds(code: str) -> dict[str, str]:
    return {"lo": code, "hi": code + ":"}
