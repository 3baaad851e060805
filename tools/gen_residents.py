"""Synthetic resident ledgers (民情台账) in the registry's import format, for benchmarks and load tests.

    python -m tools.gen_residents --rows 1000000 --buildings-from codes.csv --out residents.csv
    python -m tools.gen_residents --rows 50000 --buildings-from postgresql://.../gridgov --out r.xlsx

`--buildings-from` is a CSV/text file whose first column holds building codes (a header row is
skipped), or a PostgreSQL URL, in which case the codes are read with `--buildings-query`.

Everything is deterministic for a given seed. Row i carries identity number `id_number(start + i)`:
region code + birth date + 3-digit order code + GB 11643 check digit, where the index is sent through a
bijection of the whole number space, so numbers are unique by construction (never two rows alike,
across any files made with disjoint `start` ranges) while birth dates and regions look random.
Households (building, unit, room) hold 1–4 people (2.5 on average), about 40 per building.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from services.registry.crypto import id_check_digit
from services.registry.schemas import RESIDENT_TAGS

HEADERS = ("楼栋编码", "单元", "房号", "姓名", "性别", "身份证号", "联系电话", "与户主关系", "标签")
REGIONS = ("320402", "320404", "320411", "320412", "320413", "320481")  # 常州 districts and 溧阳
BIRTH_FIRST = date(1935, 1, 1)
BIRTH_LAST = date(2022, 12, 31)
N_DAYS = (BIRTH_LAST - BIRTH_FIRST).days + 1
ORDER_CODES = 1000
SPACE = len(REGIONS) * N_DAYS * ORDER_CODES  # every number this module can make
_MULT = 1_000_003  # prime; coprime with SPACE (checked below), so k -> k*_MULT+_ADD mod SPACE is a bijection
_ADD = 7_654_321
assert math.gcd(_MULT, SPACE) == 1

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文斌宇浩凯鹏辉丹晨欣怡子涵梓轩雨泽思佳一诺梦琪俊杰嘉懿晓东海燕婷颖琳雪梅春兰志刚玲"
RELATION_AFTER_HEAD = ("子女", "子女", "子女", "父母", "孙子女", "兄弟姐妹", "儿媳", "其他")
TAGS = RESIDENT_TAGS
HOUSEHOLD_SIZES = (1, 2, 2, 3, 3, 4)  # mean 2.5
HOUSEHOLDS_PER_BUILDING = 40
DEFAULT_QUERY = "SELECT code FROM registry.building ORDER BY code"


def id_number(k: int) -> str:
    """The k-th synthetic identity number (0 <= k < SPACE); distinct k give distinct numbers."""
    if not 0 <= k < SPACE:
        raise ValueError(f"k must be in [0, {SPACE})")
    x = (k * _MULT + _ADD) % SPACE
    x, order = divmod(x, ORDER_CODES)
    region, day = divmod(x, N_DAYS)
    born = BIRTH_FIRST + timedelta(days=day)
    first17 = f"{REGIONS[region]}{born:%Y%m%d}{order:03d}"
    return first17 + id_check_digit(first17)


def gender_of(number: str) -> str:
    return "男" if int(number[16]) % 2 == 1 else "女"


def _room(j: int, unit_base: int, units_per_lap: int, lap: int) -> tuple[str, str]:
    """Household j of a building → (unit, room): 20 households per unit, 4 rooms a floor."""
    unit = unit_base + lap * units_per_lap + j // 20 + 1
    floor, door = divmod(j % 20, 4)
    return str(unit), f"{floor + 1}{door + 1:02d}"


def generate_rows(
    rows: int,
    building_codes: Sequence[str],
    *,
    start: int = 0,
    seed: int = 20261121,
    unit_base: int = 0,
    stats: dict[str, Any] | None = None,
) -> Iterator[list[str]]:
    """Yield `rows` data rows (without the header) in the import column order.

    `start` offsets the identity-number index (row i has `id_number(start + i)`); give files that must
    not collide disjoint ranges. `unit_base` offsets unit numbers, so a second file into the same
    buildings makes new households instead of joining existing ones.
    """
    if rows < 0:
        raise ValueError("rows must not be negative")
    if not building_codes:
        raise ValueError("no building codes given")
    if start + rows > SPACE:
        raise ValueError("start + rows exceeds the identity-number space")
    rng = random.Random(seed)
    n_b = len(building_codes)
    expected_households = max(1, math.ceil(rows / 2.5))
    per_b = max(1, math.ceil(expected_households / n_b))
    units_per_lap = per_b // 20 + 1
    choice, rand, randrange = rng.choice, rng.random, rng.randrange
    i = 0
    h = 0
    buildings_used: set[int] = set()
    while i < rows:
        lap, rest = divmod(h, per_b * n_b)
        b_idx, j = divmod(rest, per_b)
        buildings_used.add(b_idx)
        building = building_codes[b_idx]
        unit, room = _room(j, unit_base, units_per_lap, lap)
        size = min(choice(HOUSEHOLD_SIZES), rows - i)
        surname = choice(SURNAMES)
        for m in range(size):
            number = id_number(start + i)
            name = (surname if m < 2 or rand() < 0.8 else choice(SURNAMES)) + choice(GIVEN)
            if rand() < 0.6:
                name += choice(GIVEN)
            if m == 0:
                relation = "户主"
            elif m == 1:
                relation = "配偶"
            else:
                relation = choice(RELATION_AFTER_HEAD)
            phone = f"1{choice('3456789')}{randrange(10**9):09d}" if rand() < 0.85 else ""
            tags = ""
            if rand() < 0.12:
                t1 = choice(TAGS)
                tags = t1 if rand() < 0.7 else "、".join(dict.fromkeys((t1, choice(TAGS))))
            yield [building, unit, room, name, gender_of(number), number, phone, relation, tags]
            i += 1
        h += 1
    if stats is not None:
        stats.update({"rows": rows, "households": h, "buildings_used": len(buildings_used)})


def write_csv(path: str | Path, rows: int, building_codes: Sequence[str], **kw: Any) -> dict[str, Any]:
    """Write a UTF-8 CSV with the import headers; return counts (rows, households, bytes, seconds)."""
    t0 = time.perf_counter()
    stats: dict[str, Any] = {}
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(HEADERS)
        w.writerows(generate_rows(rows, building_codes, stats=stats, **kw))
    stats.update(
        {"path": str(path), "bytes": Path(path).stat().st_size, "seconds": round(time.perf_counter() - t0, 2)}
    )
    return stats


def write_xlsx(path: str | Path, rows: int, building_codes: Sequence[str], **kw: Any) -> dict[str, Any]:
    """Write an .xlsx (openpyxl write-only mode; every cell is text, as the import asks)."""
    from openpyxl import Workbook

    t0 = time.perf_counter()
    stats: dict[str, Any] = {}
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("居民")
    ws.append(list(HEADERS))
    for row in generate_rows(rows, building_codes, stats=stats, **kw):
        ws.append(row)
    wb.save(str(path))
    stats.update(
        {"path": str(path), "bytes": Path(path).stat().st_size, "seconds": round(time.perf_counter() - t0, 2)}
    )
    return stats


def write_file(path: str | Path, rows: int, building_codes: Sequence[str], **kw: Any) -> dict[str, Any]:
    """CSV or .xlsx, chosen by the file name."""
    if str(path).lower().endswith(".xlsx"):
        return write_xlsx(path, rows, building_codes, **kw)
    return write_csv(path, rows, building_codes, **kw)


def _codes_from_db(url: str, query: str) -> list[str]:
    import asyncio

    import asyncpg

    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)

    async def fetch() -> list[str]:
        conn = await asyncpg.connect(dsn)
        try:
            return [r[0] for r in await conn.fetch(query)]
        finally:
            await conn.close()

    return asyncio.run(fetch())


def load_building_codes(source: str, query: str = DEFAULT_QUERY) -> list[str]:
    """Building codes from a PostgreSQL URL (via `query`) or a file whose first column holds them."""
    if source.startswith(("postgresql://", "postgresql+asyncpg://", "postgres://")):
        codes = _codes_from_db(source, query)
    else:
        codes = []
        with open(source, encoding="utf-8-sig", newline="") as f:
            for row in csv.reader(f):
                if row and row[0].strip():
                    codes.append(row[0].strip())
        if codes and not codes[0].isdigit():
            codes = codes[1:]  # a header row
    if not codes:
        raise ValueError(f"no building codes found in {source}")
    return codes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--buildings-from", required=True, help="CSV of building codes, or a PostgreSQL URL")
    p.add_argument("--buildings-query", default=DEFAULT_QUERY, help="SQL used with a PostgreSQL URL")
    p.add_argument("--out", required=True, help="output file; .xlsx makes a workbook, anything else CSV")
    p.add_argument("--start", type=int, default=0, help="identity-number index of the first row")
    p.add_argument("--unit-base", type=int, default=0, help="offset added to unit numbers")
    p.add_argument("--seed", type=int, default=20261121)
    a = p.parse_args(argv)
    codes = load_building_codes(a.buildings_from, a.buildings_query)
    stats = write_file(a.out, a.rows, codes, start=a.start, seed=a.seed, unit_base=a.unit_base)
    print(
        f"wrote {stats['rows']} residents in {stats['households']} households over "
        f"{stats['buildings_used']} of {len(codes)} buildings to {stats['path']} "
        f"({stats['bytes'] / 1e6:.1f} MB, {stats['seconds']} s)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
