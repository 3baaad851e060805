"""Demo data modelled on a real community, loaded once by `make run`.

One district (新北区, 320411), two streets, four communities. 龙锦社区 has 10 grids (7 residential,
3 commercial) and 44 micro-grids; each residential grid holds about 400 households. Polygons,
buildings, households, residents with valid identity numbers, grid teams, party organisation,
coverage, and one staff account of every role. Passwords are random, made at first load and written
to `.data/demo-accounts.json`; no password is fixed in code.

    python -m services.registry.demo --accounts .data/demo-accounts.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.crypto import BlindIndex, hash_password, id_check_digit
from services.registry.models import (
    Area,
    Building,
    GridStaff,
    Household,
    HouseholdLink,
    MapRevision,
    PartyOrg,
    Resident,
    StaffAccount,
)
from services.registry.service.accounts import new_password, upsert_service_account
from services.registry.service.geo import area_m2
from services.registry.service.people import PiiCodec
from services.registry.settings import RegistrySettings
from shared.crypto import Sealer

DISTRICT = ("320411", "新北区")
STREETS = [("320411001", "三井街道"), ("320411002", "河海街道")]
COMMUNITIES = [
    ("320411001001", "龙锦社区", 0),  # the modelled community: 10 grids, 44 micro-grids
    ("320411001002", "新桥社区", 1),
    ("320411002001", "春江社区", 2),
    ("320411002002", "百馨西苑社区", 3),
]
ESTATES = ["龙锦花园", "锦绣苑", "龙湖名邸", "香树湾", "怡景园", "丽景花苑", "翠竹新村"]
COMMERCIAL = ["万达广场", "龙锦商业街", "美食街"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红建国志文斌波辉宁鹏飞婷雪慧琳晨浩宇欣怡子涵梓轩雨萱佳一诺俊熙"
TAG_RATES = [
    ("独居老人", 0.03),
    ("残疾人", 0.02),
    ("孕产妇", 0.01),
    ("困难群众", 0.02),
    ("党员", 0.09),
    ("志愿者", 0.05),
    ("在职党员双报到", 0.02),
    ("退役军人", 0.02),
]
LNG0, LAT0 = 119.950, 31.810
GRID_W, GRID_H = 0.0040, 0.0032  # about 380 m × 355 m


def _rect(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    r = lambda v: round(v, 6)  # noqa: E731
    return {
        "type": "Polygon",
        "coordinates": [[[r(x0), r(y0)], [r(x1), r(y0)], [r(x1), r(y1)], [r(x0), r(y1)], [r(x0), r(y0)]]],
    }


def _bbox(geo: dict[str, Any]) -> dict[str, float]:
    ring = geo["coordinates"][0]
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    from shapely.geometry import shape

    return {
        "min_lng": min(xs),
        "min_lat": min(ys),
        "max_lng": max(xs),
        "max_lat": max(ys),
        "area_m2": round(area_m2(shape(geo)), 1),
    }


class Names:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def person(self) -> str:
        n = self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)
        return n + self.rng.choice(GIVEN) if self.rng.random() < 0.7 else n


def make_id_number(born: date, female: bool, seq: int, used: set[str]) -> str:
    """A valid, unused identity number: region 320411, the birth date, an order code whose last digit
    is odd for men and even for women, and the GB 11643 check digit."""
    for k in range(500):
        order = ((seq + k) % 500) * 2 + (0 if female else 1)
        first17 = f"320411{born:%Y%m%d}{order:03d}"
        if first17 not in used:
            used.add(first17)
            return first17 + id_check_digit(first17)
    raise RuntimeError("no identity number left for this birth date")


async def is_loaded(session: AsyncSession) -> bool:
    return (await session.execute(select(Area.id).where(Area.code == DISTRICT[0]))).first() is not None


async def load(session: AsyncSession, codec: PiiCodec, *, seed: int = 20261121) -> dict[str, Any]:
    """Insert the demo district. Returns the demo accounts and residents for demo-accounts.json."""
    rng = random.Random(seed)
    names = Names(rng)

    async def add_area(**kw: Any) -> int:
        if kw.get("boundary"):
            kw.update(_bbox(kw["boundary"]))
        return (await session.execute(insert(Area).values(**kw).returning(Area.id))).scalar_one()

    district_id = await add_area(level="district", code=DISTRICT[0], name=DISTRICT[1], parent_id=None)
    street_ids = {
        code: await add_area(level="street", code=code, name=name, parent_id=district_id)
        for code, name in STREETS
    }
    grids: list[dict[str, Any]] = []
    micro: list[dict[str, Any]] = []
    community_ids: dict[str, int] = {}
    for ccode, cname, slot in COMMUNITIES:
        cid = await add_area(level="community", code=ccode, name=cname, parent_id=street_ids[ccode[:9]])
        community_ids[ccode] = cid
        if slot == 0:
            layout = [(i % 5, i // 5, "residential" if i < 7 else "commercial") for i in range(10)]
            ox, oy = LNG0, LAT0
        else:
            layout = [(0, 0, "residential"), (1, 0, "residential")]
            ox, oy = LNG0 + GRID_W * (5 + 2 * (slot - 1)) + 0.001 * slot, LAT0 + GRID_H * 3
        for n, (gx, gy, kind) in enumerate(layout, start=1):
            x0, y0 = ox + gx * GRID_W, oy + gy * GRID_H
            estate = (
                (
                    ESTATES[(n - 1) % len(ESTATES)]
                    if kind == "residential"
                    else COMMERCIAL[(n - 8) % len(COMMERCIAL)]
                )
                if slot == 0
                else f"{cname[:2]}{n}号小区"
            )
            mtype = (
                ["routine", "routine", "prevention", "focus"][n % 4]
                if kind == "residential"
                else "prevention"
            )
            gcode = f"{ccode}{n:03d}"
            gname = f"{cname}第{n}网格（{estate}）"
            gid = await add_area(
                level="grid",
                code=gcode,
                name=gname,
                parent_id=cid,
                grid_kind=kind,
                management_type=mtype,
                boundary=_rect(x0, y0, x0 + GRID_W, y0 + GRID_H),
            )
            grid = {
                "id": gid,
                "code": gcode,
                "name": gname,
                "kind": kind,
                "estate": estate,
                "community": ccode,
                "street": ccode[:9],
            }
            grids.append(grid)
            parts = (5 if kind == "residential" else 3) if slot == 0 else 3
            w = GRID_W / parts
            for m in range(parts):
                mcode = f"{gcode}{m + 1:03d}"
                mid = await add_area(
                    level="micro_grid",
                    code=mcode,
                    name=f"{estate}第{m + 1}微网格",
                    parent_id=gid,
                    boundary=_rect(x0 + m * w, y0, x0 + (m + 1) * w, y0 + GRID_H),
                )
                micro.append(
                    {"id": mid, "code": mcode, "grid": grid, "x0": x0 + m * w, "w": w, "y0": y0, "n": m}
                )
    await session.execute(
        MapRevision.__table__.update().where(MapRevision.id == 1).values(rev=MapRevision.rev + 1)
    )

    # Buildings and households: a residential micro-grid has 4 buildings × 2 units × 5 floors × 2 rooms.
    households: list[dict[str, Any]] = []
    b_no = 0
    for mg in micro:
        grid = mg["grid"]
        residential = grid["kind"] == "residential"
        nb = 4 if residential else 2
        for k in range(nb):
            b_no += 1
            num = mg["n"] * nb + k + 1
            bname = (
                f"{grid['estate']}{num}幢" if residential else f"{grid['estate']}{chr(65 + mg['n'])}{k + 1}座"
            )
            street_name = dict(STREETS)[grid["street"]]
            cname = next(c[1] for c in COMMUNITIES if c[0] == grid["community"])
            bcode = f"{mg['code']}{k + 1:03d}"
            lat = mg["y0"] + GRID_H * (k + 0.5) / nb
            lng = mg["x0"] + mg["w"] / 2
            bid = (
                await session.execute(
                    insert(Building)
                    .values(
                        code=bcode,
                        micro_grid_id=mg["id"],
                        area_code=mg["code"],
                        name=bname,
                        address=f"{DISTRICT[1]}{street_name}{cname}{bname}",
                        unit_count=2 if residential else 1,
                        floor_count=5 if residential else 3,
                        lat=round(lat, 6),
                        lng=round(lng, 6),
                    )
                    .returning(Building.id)
                )
            ).scalar_one()
            if residential:
                rooms = [(str(u), f"{f}0{r}") for u in (1, 2) for f in range(1, 6) for r in (1, 2)]
            else:
                rooms = [("", f"1{r:02d}") for r in range(1, 11)]
            for unit, room in rooms:
                households.append(
                    {
                        "code": f"{bcode}-{unit}-{room}" if unit else f"{bcode}-{room}",
                        "building_id": bid,
                        "area_code": mg["code"],
                        "unit_no": unit,
                        "room_no": room,
                        "occupancy": "rented" if rng.random() < 0.15 else "owner",
                        "_grid": grid["id"],
                    }
                )
    rows = [{k: v for k, v in h.items() if not k.startswith("_")} for h in households]
    ids = (await session.execute(insert(Household).returning(Household.id, Household.code), rows)).all()
    id_by_code = dict((c, i) for i, c in ids)
    for h in households:
        h["id"] = id_by_code[h["code"]]

    # Residents: 1–4 per household, the first is the head.
    today = date.today()
    residents: list[dict[str, Any]] = []
    seq = 0
    used_phones: set[str] = set()
    used_numbers: set[str] = set()
    for h in households:
        size = rng.choices([1, 2, 3, 4], weights=[18, 34, 30, 18])[0]
        for i in range(size):
            seq += 1
            age = rng.randint(28, 85) if i == 0 else (rng.randint(25, 80) if i == 1 else rng.randint(1, 30))
            born = today - timedelta(days=age * 365 + rng.randint(0, 364))
            female = rng.random() < 0.5
            number = make_id_number(born, female, seq, used_numbers)
            phone = None
            if age >= 16 and rng.random() < 0.9:
                while True:
                    phone = f"1{rng.choice('3578')}{rng.randint(0, 999_999_999):09d}"
                    if phone not in used_phones:
                        used_phones.add(phone)
                        break
            tags = [t for t, p in TAG_RATES if rng.random() < p]
            if "独居老人" in tags and (size > 1 or age < 60):
                tags.remove("独居老人")
            if "孕产妇" in tags and (not female or not 20 <= age <= 42):
                tags.remove("孕产妇")
            if "在职党员双报到" in tags and "党员" not in tags:
                tags.append("党员")
            id_hash, cipher, masked = codec.seal_id(number)
            residents.append(
                {
                    "household_id": h["id"],
                    "area_code": h["area_code"],
                    "name": names.person(),
                    "gender": "F" if female else "M",
                    "birth_date": born,
                    "id_hash": id_hash,
                    "id_cipher": cipher,
                    "id_masked": masked,
                    "phone": phone,
                    "relation": "户主" if i == 0 else ("配偶" if i == 1 else "子女"),
                    "tags": tags,
                    "_number": number,
                    "_grid": h["_grid"],
                }
            )
    rrows = [{k: v for k, v in r.items() if not k.startswith("_")} for r in residents]
    rids = (await session.execute(insert(Resident).returning(Resident.id), rrows)).scalars().all()
    for r, rid in zip(residents, rids, strict=True):
        r["id"] = rid

    # Staff accounts, one of every role, with random passwords.
    accounts: list[dict[str, Any]] = []

    async def account(
        username: str, role: str, scope: list[str], display: str, phone: str | None = None
    ) -> int:
        pw = new_password()
        aid = (
            await session.execute(
                insert(StaffAccount)
                .values(
                    username=username,
                    password_hash=hash_password(pw),
                    role=role,
                    scope=scope,
                    display_name=display,
                    phone=phone,
                )
                .returning(StaffAccount.id)
            )
        ).scalar_one()
        accounts.append({"username": username, "password": pw, "role": role, "scope": " ".join(scope)})
        return aid

    await account("admin", "district_admin", [DISTRICT[0]], "区网格中心管理员")
    await account("sanjing-dispatch", "street_dispatcher", ["320411001"], "三井街道指挥中心")
    await account("hehai-dispatch", "street_dispatcher", ["320411002"], "河海街道指挥中心")
    await account("longjin-admin", "community_admin", ["320411001001"], "龙锦社区管理员")
    await account("chunjiang-admin", "community_admin", ["320411002001"], "春江社区管理员")
    grid_accounts: dict[int, int] = {}
    for g in grids:
        n = int(g["code"][-3:])
        prefix = "longjin" if g["community"] == "320411001001" else g["community"][-4:]
        grid_accounts[g["id"]] = await account(
            f"{prefix}-grid{n:02d}", "grid_worker", [g["code"]], f"{g['name'][:4]}{n}网格员"
        )
    await account("dept-cgj", "department_handler", ["CGJ"], "区城管局派单员")
    await account("dept-swj", "department_handler", ["SWJ"], "区水务局派单员")
    await account("unit-liaison", "unit_liaison", ["MU001"], "成员单位联络员")
    await account("unit-liaison-2", "unit_liaison", ["MU002"], "三井派出所联络员")
    await account("unit-liaison-3", "unit_liaison", ["MU003"], "城管三井中队联络员")
    await account("hotline-bridge", "integration", ["12345"], "12345热线对接")

    # Grid teams: 一格五员 everywhere; the specialist 一长六员 members in 龙锦社区.
    staff_rows: list[dict[str, Any]] = []
    for g in grids:
        team = ["grid_chief", "full_time", "part_time", "part_time", "instructor", "informant"]
        if g["community"] == "320411001001":
            team += ["party_instructor", "safety_inspector", "mediator", "firefighter", "police", "patroller"]
        for role in team:
            staff_rows.append(
                {
                    "grid_id": g["id"],
                    "name": names.person(),
                    "role": role,
                    "service_phone": f"0519-8{rng.randint(0, 9_999_999):07d}"
                    if role in ("grid_chief", "police")
                    else None,
                    "personal_phone": f"13{rng.randint(0, 999_999_999):09d}",
                    "account_id": grid_accounts[g["id"]] if role == "full_time" else None,
                }
            )
    await session.execute(insert(GridStaff), staff_rows)

    # Party organisation in every community: committee → branch per residential grid → group per building.
    by_grid: dict[int, list[dict[str, Any]]] = {}
    for r in residents:
        by_grid.setdefault(r["_grid"], []).append(r)
    hh_by_grid: dict[int, list[dict[str, Any]]] = {}
    for h in households:
        hh_by_grid.setdefault(h["_grid"], []).append(h)
    for ccode, cname, _ in COMMUNITIES:
        cid = community_ids[ccode]
        committee = (
            await session.execute(
                insert(PartyOrg)
                .values(
                    kind="committee",
                    name=f"{cname}党委",
                    community_id=cid,
                    area_code=ccode,
                    secretary_name=names.person(),
                )
                .returning(PartyOrg.id)
            )
        ).scalar_one()
        for g in (g for g in grids if g["community"] == ccode and g["kind"] == "residential"):
            branch = (
                await session.execute(
                    insert(PartyOrg)
                    .values(
                        kind="branch",
                        name=f"{g['estate']}党支部",
                        parent_id=committee,
                        community_id=cid,
                        area_code=ccode,
                        secretary_name=names.person(),
                    )
                    .returning(PartyOrg.id)
                )
            ).scalar_one()
            group = (
                await session.execute(
                    insert(PartyOrg)
                    .values(
                        kind="group",
                        name=f"{g['estate']}楼栋党小组",
                        parent_id=branch,
                        community_id=cid,
                        area_code=ccode,
                        secretary_name=names.person(),
                    )
                    .returning(PartyOrg.id)
                )
            ).scalar_one()
            members = [r for r in by_grid[g["id"]] if "党员" in r["tags"]]
            hhs = hh_by_grid[g["id"]]
            links = []
            for k in range(0, len(hhs), 25):
                if k // 25 < len(members):
                    links += [
                        {
                            "kind": "party_central",
                            "household_id": h["id"],
                            "resident_id": members[k // 25]["id"],
                            "party_org_id": group,
                        }
                        for h in hhs[k : k + 25]
                    ]
            adults = [r for r in by_grid[g["id"]] if r["relation"] == "户主"]
            for k in range(0, len(hhs), 12):
                if k // 12 < len(adults):
                    links += [
                        {
                            "kind": "representative",
                            "household_id": h["id"],
                            "resident_id": adults[-(k // 12) - 1]["id"],
                            "party_org_id": None,
                        }
                        for h in hhs[k : k + 12]
                    ]
            if links:
                await session.execute(insert(HouseholdLink), links)

    demo_residents = []
    for r in residents:
        if r["phone"] and r["relation"] == "户主" and r["area_code"].startswith("320411001001"):
            demo_residents.append(
                {
                    "name": r["name"],
                    "phone": r["phone"],
                    "id_last4": r["_number"][-4:],
                    "household_id": r["household_id"],
                }
            )
        if len(demo_residents) >= 5:
            break
    return {
        "accounts": accounts,
        "residents": demo_residents,
        "counts": {
            "grids": len(grids),
            "micro_grids": len(micro),
            "households": len(households),
            "residents": len(residents),
        },
    }


async def reset_passwords(session: AsyncSession, usernames: list[str] | None = None) -> list[dict[str, Any]]:
    """New random passwords for the demo's staff accounts (the accounts file was lost)."""
    stmt = select(StaffAccount).where(StaffAccount.role != "service")
    if usernames:
        stmt = stmt.where(StaffAccount.username.in_(usernames))
    out = []
    for a in (await session.execute(stmt.order_by(StaffAccount.id))).scalars():
        pw = new_password()
        a.password_hash = hash_password(pw)
        a.failed_logins, a.locked_until = 0, None
        out.append({"username": a.username, "password": pw, "role": a.role, "scope": " ".join(a.scope)})
    await session.flush()
    return out


async def demo_residents(session: AsyncSession, codec: PiiCodec) -> list[dict[str, Any]]:
    rows = (
        await session.execute(
            select(Resident)
            .where(
                Resident.relation == "户主",
                Resident.phone.is_not(None),
                Resident.area_code.startswith("320411001001"),
            )
            .order_by(Resident.id)
            .limit(5)
        )
    ).scalars()
    return [
        {"name": r.name, "phone": r.phone, "id_last4": r.id_masked[-4:], "household_id": r.household_id}
        for r in rows
    ]


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=Path, required=True, help="where to write demo-accounts.json")
    parser.add_argument(
        "--service",
        action="append",
        default=[],
        metavar="NAME=SECRET",
        help="service account to create or update (svc-NAME)",
    )
    parser.add_argument("--hotline-key", default=None, help="APP_KEY:APP_SECRET for the hotline entry")
    args = parser.parse_args(argv)
    settings = RegistrySettings()  # type: ignore[call-arg]
    from shared.db import make_engine, make_sessionmaker

    engine = make_engine(settings.database_url, pool_size=2)
    maker = make_sessionmaker(engine)
    codec = PiiCodec(Sealer(settings.data_key_bytes), BlindIndex(settings.lookup_key_bytes))
    try:
        async with maker() as session, session.begin():
            for spec in args.service:
                name, _, secret = spec.partition("=")
                await upsert_service_account(session, name, secret)
            loaded = await is_loaded(session)
            if loaded and args.accounts.exists():
                print(f"demo data already loaded; accounts in {args.accounts}")
                return
            if loaded:
                data = {
                    "accounts": await reset_passwords(session),
                    "residents": await demo_residents(session, codec),
                }
                print("demo data already loaded; its accounts file was missing, so passwords were reset")
            else:
                data = await load(session, codec)
                print(f"demo data loaded: {data.pop('counts')}")
        key, _, secret = (args.hotline_key or ":").partition(":")
        out = {
            "accounts": data["accounts"],
            "hotline": {"app_key": key, "app_secret": secret},
            "residents": data["residents"],
        }
        args.accounts.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.accounts.with_suffix(".tmp")
        tmp.write_text(json.dumps(out, ensure_ascii=False, indent=2))
        os.chmod(tmp, 0o600)
        tmp.replace(args.accounts)
        print(f"demo accounts written to {args.accounts}")
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
