"""`make bench`, wishes part: the claim race, redemptions against one balance, and the wish wall at
100,000 wishes, each read against bare baselines measured in the same run.

    python -m bench.wishes            # full run (about 4 minutes on 2 idle cores)
    python -m bench.wishes --quick    # shorter load runs, fewer rounds

What runs, all on this machine (the embedded cluster in .data/pg-bench, database gridgov_bench_wishes,
created afresh and migrated):

1. **Data**, written straight into the tables before any server starts (COPY): the registry's map
   (bench.run.seed: 800 grids in 20 communities), 100,000 wishes spread over those communities (the
   first, the liaisons' community, is the busiest: about 15%) in a realistic status mix (8% published,
   60% closed, the rest spread over the other states), each with its trail (wish_event), 30% with
   photos, 10% of the published ones directed to chosen units; 150 member units (MU001–MU050 joined the
   first community's committee), 2,000 volunteers with their opening ledger rows, a catalogue per
   community. Staff accounts go straight into registry.staff_account: 50 unit liaisons (scope MU001 …
   MU050), a community admin of the first community; the mobile service logs in with client credentials.
2. **Baselines**: the bare FastAPI + asyncpg insert (bench/baseline_app.py) at 32 clients and, while it
   runs, bursts of 50 and 100 simultaneous inserts (the same shape as the claim and redemption bursts);
   then the wishes service's own `GET /healthz` at 32 clients and in bursts of 50.
3. **Wish wall**: `GET /api/v1/wishes/wall` through the load generator at 1, 8 and 32 clients: the 50
   liaisons' wall of their community (each request a random liaison's token and page), the mobile
   service's open wall of a community (communities weighted like the wishes), and its district-wide
   wall. Target p99 < 50 ms. The first answers are checked against the database first.
4. **Claim race**: per round, 50 liaisons of 50 different units, each on its own warmed keep-alive
   connection, send `POST /api/v1/wishes/{id}/claim` at the same instant for one open wish; the round's
   time runs from the release to the last answer. Target: exactly one 200 and 49 409s, under 1 s; the
   database must show that unit as the claimant and one claim on the trail.
5. **Redemptions**: per round, 100 simultaneous `POST /api/v1/redemptions` by the community admin for
   one volunteer (opening balance 1,000, item price 30: 33 can succeed), then one round bound by stock
   instead (stock 20, ample points). The ledger must hold: successes × price ≤ opening balance, final
   balance = opening − spent, the volunteer's ledger deltas sum to the balance, each entry's
   balance_after is the previous one's plus its delta, none negative; every refusal a 409.

Results go to bench/results/wishes.json and WISHES.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from bench.dispatch import _service_account, fresh_database, markdown, start_registry
from bench.run import (
    DISTRICT,
    ROOT,
    Children,
    Config,
    Layout,
    Server,
    asyncpg_dsn,
    insert_baseline,
    login,
    pg_info,
    run_load,
    run_part,
    seed,
    start_uvicorn,
    wait_for_quiet,
    write_lines,
)

RESULTS = ROOT / "bench" / "results"
DATABASE = "gridgov_bench_wishes"
# targets from the issue
CLAIMANTS = 50
CLAIM_MAX_S = 1.0
REDEEMERS = 100
WALL_MAX_P99_MS = 50.0
# the redemption rounds: one volunteer's opening balance against an item's price (points bound),
# then stock bound
OPENING, PRICE = 1_000, 30
STOCK_ROUND = {"opening": 100_000, "price": 10, "stock": 20}

STATUS_MIX = {
    "submitted": 0.04,
    "approved": 0.02,
    "rejected": 0.03,
    "published": 0.08,
    "claimed": 0.04,
    "in_progress": 0.05,
    "completed": 0.03,
    "confirmed": 0.03,
    "closed": 0.60,
    "cancelled": 0.08,
}
# the main path: (action, label, status reached)
PATH = (
    ("submit", "点单", "submitted"),
    ("approve", "审核通过", "approved"),
    ("publish", "派单", "published"),
    ("claim", "接单", "claimed"),
    ("start", "开始实施", "in_progress"),
    ("complete", "完成", "completed"),
    ("confirm", "居民确认", "confirmed"),
    ("close", "销单", "closed"),
)
DEPTH = {status: i + 1 for i, (_a, _l, status) in enumerate(PATH)}
# days between now and a wish's last step, by status: claims lapse after 7 days and completed wishes
# are confirmed after 7, so those stay inside the window the service's jobs leave alone
LAST_STEP_AGE_DAYS = {
    "submitted": (0.01, 3),
    "approved": (0.02, 4),
    "rejected": (1, 365),
    "published": (0.05, 40),
    "claimed": (0.05, 6),
    "in_progress": (0.5, 30),
    "completed": (0.05, 6),
    "confirmed": (0.5, 20),
    "closed": (2, 365),
    "cancelled": (1, 365),
}
CATEGORIES = {
    "助老": (
        0.30,
        (
            "希望有人帮忙更换家中老化的电线和灯泡",
            "想要一台带座椅的助行器",
            "希望每周有志愿者上门陪聊",
            "独居老人希望有人帮忙买菜送药",
            "希望安装卫生间扶手防滑倒",
        ),
    ),
    "助困": (
        0.15,
        (
            "家里冬天缺一床厚棉被",
            "希望得到一些米面油等生活物资",
            "孩子上学需要一张书桌",
            "想请人帮忙修理漏水的水龙头",
        ),
    ),
    "助学": (
        0.15,
        (
            "孩子想要一套课外读物",
            "希望有大学生志愿者辅导初中数学",
            "想要一个新书包和文具",
            "希望周末有人辅导英语口语",
        ),
    ),
    "生活服务": (
        0.15,
        ("希望有人帮忙清理楼道杂物", "想请人上门理发", "家电坏了希望有人帮忙维修", "希望帮忙搬运旧家具"),
    ),
    "医疗健康": (
        0.10,
        ("希望有医生上门测量血压血糖", "想了解慢性病用药知识", "需要一副老花镜", "希望陪同去医院复诊"),
    ),
    "助残": (0.05, ("需要一辆轮椅", "希望有人帮忙办理残疾人补贴", "想要一个助听器")),
    "就业": (0.05, ("希望得到就业技能培训机会", "想找一份社区附近的工作", "希望有人帮忙写简历")),
    "其他": (0.05, ("希望社区组织一次法律咨询", "想学习使用智能手机", "希望有人帮忙联系物业")),
}
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = "秀英桂兰玉珍凤华建国志强明辉丽娟春梅海燕文杰晓东国平红霞金花德福淑芬永刚秋菊"
UNIT_KINDS = ("党政机关", "群团组织", "企事业单位", "社会组织", "商户")
UNIT_NAMES = {
    "党政机关": ("新北区税务局第{n}分局", "新北区市场监管局{n}所", "新北区人社局{n}科"),
    "群团组织": ("新北区团委第{n}支部", "新北区妇联{n}工作站", "新北区工会{n}分会"),
    "企事业单位": ("常州第{n}人民医院", "常州恒{n}科技有限公司", "新北区第{n}实验小学", "常州供电公司{n}部"),
    "社会组织": ("新北区益{n}社工服务中心", "常州乐{n}志愿者协会"),
    "商户": ("惠{n}便利超市", "康{n}大药房", "新{n}理发店"),
}


# ---- data -------------------------------------------------------------------------------------------


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"


class World:
    """The areas the wishes live in, from the registry's synthetic map (bench.run.Layout)."""

    def __init__(self, layout: Layout, communities: int) -> None:
        self.layout = layout
        self.communities = min(communities, layout.communities)
        # the first community is the busiest: its liaisons are the ones measured
        raw = [1 / (c + 1) ** 0.6 for c in range(self.communities)]
        self.weights = [w / sum(raw) for w in raw]

    def community(self, c: int) -> str:
        return self.layout.community_code(c)

    def grids(self, c: int) -> range:
        per = self.layout.per_community
        return range(c * per, min((c + 1) * per, self.layout.n_grids))


def _units(world: World, rng: random.Random) -> list[dict[str, Any]]:
    """MU001–MU050 joined the first community's committee (the claim race); five per other community;
    five joined the first street's committee."""
    units: list[dict[str, Any]] = []

    def add(area: str, area_name: str) -> None:
        n = len(units) + 1
        kind = UNIT_KINDS[n % len(UNIT_KINDS)]
        units.append(
            {
                "id": n,
                "code": f"MU{n:03d}",
                "name": rng.choice(UNIT_NAMES[kind]).format(n=n),
                "kind": kind,
                "area_code": area,
                "area_name": area_name,
                "contact_name": _name(rng),
                "contact_phone": _phone(rng),
                "party_members": rng.randrange(3, 80),
                "address": f"{area_name}服务点",
                "active": True,
                "joined_on": (datetime.now(UTC) - timedelta(days=rng.randrange(30, 1500))).date(),
            }
        )

    for _ in range(CLAIMANTS):
        add(world.community(0), "第1社区")
    for c in range(1, world.communities):
        for _ in range(5):
            add(world.community(c), f"第{c + 1}社区")
    for _ in range(5):
        add(world.layout.street_code(0), "第1街道")
    return units


def _steps(rng: random.Random, status: str) -> list[tuple[str, str | None, str]]:
    """The (action, from, to) steps a wish in `status` went through."""
    if status == "rejected":
        return [("submit", None, "submitted"), ("reject", "submitted", "rejected")]
    k = rng.choice((1, 1, 2, 3, 3, 4, 5)) if status == "cancelled" else DEPTH[status]
    steps = [(a, PATH[i - 1][2] if i else None, s) for i, (a, _l, s) in enumerate(PATH[:k])]
    if status == "cancelled":
        steps.append(("cancel", steps[-1][2], "cancelled"))
    return steps


def generate(
    world: World, rng: random.Random, n_wishes: int, now: datetime
) -> dict[str, list[dict[str, Any]]]:
    """Every row to COPY, by table (in foreign-key order): units, volunteers and their opening ledger
    rows, the catalogue, wishes with their directed targets, photos and trail."""
    units = _units(world, rng)
    by_area: dict[str, list[dict[str, Any]]] = {}
    for u in units:
        by_area.setdefault(u["area_code"], []).append(u)
    street_units = by_area.get(world.layout.street_code(0), [])
    out: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
    out["member_unit"] = units

    vols_of: dict[int, list[int]] = {}
    for c in range(world.communities):
        area = world.community(c)
        for i in range(100):
            vid = len(out["volunteer"]) + 1
            unit = rng.choice(by_area[area]) if area in by_area and rng.random() < 0.6 else None
            points = rng.choice((0, 0, 10, 25, 40, 60, 90, 120, 200, 350))
            out["volunteer"].append(
                {
                    "id": vid,
                    "name": _name(rng),
                    "phone": f"139{c:02d}{i:06d}",
                    "area_code": area,
                    "unit_id": unit["id"] if unit else None,
                    "party_member": rng.random() < 0.8,
                    "in_service": rng.random() < 0.7,
                    "active": True,
                    "points": points,
                    "created_at": now - timedelta(days=rng.uniform(30, 900)),
                }
            )
            if points:
                out["points_entry"].append(
                    {
                        "volunteer_id": vid,
                        "kind": "adjust",
                        "delta": points,
                        "balance_after": points,
                        "note": "历史积分迁移",
                        "actor": "bench-seed",
                        "at": now - timedelta(days=30),
                    }
                )
            vols_of.setdefault(c, []).append(vid)
        for name, price in (
            ("洗衣液", 30),
            ("大米5kg", 60),
            ("食用油", 80),
            ("理发券", 20),
            ("体检套餐", 300),
        ):
            out["catalogue_item"].append(
                {
                    "area_code": area,
                    "name": name,
                    "description": f"积分超市：{name}",
                    "price": price,
                    "stock": rng.randrange(0, 200),
                    "active": True,
                }
            )

    statuses, status_w = list(STATUS_MIX), list(STATUS_MIX.values())
    cats = list(CATEGORIES)
    cat_w = [CATEGORIES[k][0] for k in cats]
    for wid in range(1, n_wishes + 1):
        c = rng.choices(range(world.communities), world.weights)[0]
        community = world.community(c)
        g = rng.choice(world.grids(c))
        grid = world.layout.grid_code(g)
        status = rng.choices(statuses, status_w)[0]
        category = rng.choices(cats, cat_w)[0]
        title = rng.choice(CATEGORIES[category][1])
        steps = _steps(rng, status)
        lo, hi = LAST_STEP_AGE_DAYS[status]
        gaps = [timedelta(hours=rng.uniform(1, 48)) for _ in steps[1:]]
        at = [now - timedelta(days=rng.uniform(lo, hi)) - sum(gaps, timedelta())]
        for gap in gaps:
            at.append(at[-1] + gap)
        when = {a: t for (a, _f, _s), t in zip(steps, at, strict=True)}
        reached = {s for _a, _f, s in steps}
        mobile = rng.random() < 0.7
        submitter, staff = ("svc-mobile" if mobile else f"gw-{grid}"), f"gw-{grid}"
        directed = "published" in reached and rng.random() < 0.10
        offered = by_area.get(community) or street_units
        chosen = rng.sample(offered, min(len(offered), rng.choice((1, 2, 3)))) if directed else []
        claimed = "claimed" in reached and status != "cancelled"  # a cancel clears the claim
        unit = rng.choice(chosen or offered) if claimed and rng.random() < 0.75 else None
        volunteer = rng.choice(vols_of[c]) if claimed and unit is None else None
        served = [
            {"volunteer_id": v, "hours": rng.choice((0.5, 1.0, 1.5, 2.0, 3.0, 4.0))}
            for v in (rng.sample(vols_of[c], rng.choice((1, 1, 2, 3))) if "completed" in reached else [])
        ]
        out["wish"].append(
            {
                "id": wid,
                "status": status,
                "category": category,
                "title": title,
                "description": f"{title}。家住{grid[-6:]}网格，联系社区网格员可了解详情。",
                "estimated_value": Decimal(rng.choice((0, 20, 50, 80, 100, 150, 200, 300, 500))),
                "wanted_by": (at[0] + timedelta(days=rng.randrange(7, 60))).date()
                if rng.random() < 0.5
                else None,
                "privacy": rng.random() < 0.10,
                "source": "mini_program" if mobile else "grid_worker",
                "resident_id": rng.randrange(1, 1_000_000),
                "household_id": rng.randrange(1, 400_000),
                "resident_name": _name(rng),
                "resident_address": f"江苏省常州市新北区第{c + 1}社区{rng.randrange(1, 60)}幢"
                f"{rng.randrange(1, 4)}单元{rng.randrange(101, 1802)}室",
                "contact_phone": _phone(rng) if rng.random() < 0.8 else None,
                "area_code": world.layout.micro_code(g, rng.randrange(world.layout.micro)),
                "grid_code": grid,
                "grid_name": f"第{c + 1}社区第{g % world.layout.per_community + 1}网格",
                "community_code": community,
                "community_name": f"第{c + 1}社区",
                "submitted_by": submitter,
                "submitted_at": at[0],
                "review_note": "不属于微心愿受理范围，已转相关部门" if status == "rejected" else None,
                "reviewed_by": staff if ("approve" in when or "reject" in when) else None,
                "reviewed_at": when.get("approve") or when.get("reject"),
                "directed": directed,
                "published_at": when.get("publish"),
                "claimant_kind": "unit" if unit else "volunteer" if volunteer else None,
                "claimant_unit_id": unit["id"] if unit else None,
                "claimant_volunteer_id": volunteer,
                "claimed_by": f"liaison-{unit['code'].lower()}" if unit else staff if volunteer else None,
                "claimed_at": when.get("claim") if claimed else None,
                "started_at": when.get("start") if claimed else None,
                "completed_at": when.get("complete"),
                "completion_note": "已按心愿完成，附照片" if "completed" in reached else None,
                "served": json.dumps(served),
                "confirmed_at": when.get("confirm"),
                "auto_confirmed": "confirm" in when and rng.random() < 0.3,
                "closed_at": when.get("close"),
                "cancelled_at": when.get("cancel"),
                "cancel_reason": rng.choice(("居民已自行解决", "心愿已由家属解决", "居民搬离本社区"))
                if status == "cancelled"
                else None,
                "ever_claimed": "claimed" in reached,
                "updated_at": at[-1],
            }
        )
        out["wish_target"] += [{"wish_id": wid, "unit_id": u["id"]} for u in chosen]
        for pos in range(rng.choice((1, 1, 2, 3)) if rng.random() < 0.30 else 0):
            pid = uuid.UUID(int=rng.getrandbits(128), version=4)
            out["photo"].append(
                {
                    "id": pid,
                    "sha256": secrets.token_hex(32),
                    "content_type": "image/jpeg",
                    "size": rng.randrange(40_000, 900_000),
                    "width": 1280,
                    "height": 960,
                    "path": f"{pid}.jpg",
                    "uploaded_by": submitter,
                    "created_at": at[0],
                }
            )
            out["wish_photo"].append({"wish_id": wid, "photo_id": pid, "kind": "request", "position": pos})
        for (action, before, after), t in zip(steps, at, strict=True):
            actor, role = staff, "grid_worker"
            if action == "submit":
                actor, role = submitter, "service" if mobile else "grid_worker"
            elif action == "claim" and unit:
                actor, role = f"liaison-{unit['code'].lower()}", "unit_liaison"
            data = {"unit_ids": [u["id"] for u in chosen]} if action == "publish" and chosen else {}
            out["wish_event"].append(
                {
                    "wish_id": wid,
                    "action": action,
                    "from_status": before,
                    "to_status": after,
                    "actor": actor,
                    "actor_role": role,
                    "at": t,
                    "data": json.dumps(data),
                }
            )
    return out


TABLES = (
    "member_unit",
    "volunteer",
    "points_entry",
    "catalogue_item",
    "wish",
    "wish_target",
    "photo",
    "wish_photo",
    "wish_event",
)
# tables whose ids the COPY wrote itself: their identity sequences move past them
EXPLICIT_IDS = ("member_unit", "volunteer", "wish")


async def load(url: str, rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """COPY every table's rows (columns not given take their defaults), then VACUUM ANALYZE."""
    import asyncpg

    t0 = time.perf_counter()
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        async with conn.transaction():
            for table in TABLES:
                cols = list(rows[table][0])
                await conn.copy_records_to_table(
                    table,
                    schema_name="wishes",
                    columns=cols,
                    records=[tuple(r[c] for c in cols) for r in rows[table]],
                )
            for table in EXPLICIT_IDS:
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('wishes.{table}', 'id'), "  # noqa: S608 — our constants
                    f"(SELECT max(id) FROM wishes.{table}))"
                )
        copy_s = time.perf_counter() - t0
        # what autovacuum would have done over the months these rows took to arrive
        for table in TABLES:
            await conn.execute(f"VACUUM (ANALYZE) wishes.{table}")
        mix = await conn.fetch("SELECT status, count(*) AS n FROM wishes.wish GROUP BY 1 ORDER BY 2 DESC")
    finally:
        await conn.close()
    return {
        "rows": {t: len(r) for t, r in rows.items()},
        "status_mix": {r["status"]: r["n"] for r in mix},
        "copy_s": round(copy_s, 2),
        "vacuum_analyze_s": round(time.perf_counter() - t0 - copy_s, 2),
    }


async def add_staff(url: str, accounts: list[tuple[str, str, list[str], str]], password: str) -> None:
    """Staff accounts (username, role, scope, display name) written straight into the registry."""
    import asyncpg

    from services.registry.crypto import hash_password

    hashed = hash_password(password)  # one hash: every bench account has the same password
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.executemany(
            "INSERT INTO registry.staff_account (username, password_hash, role, scope, display_name, is_active, "
            "failed_logins) VALUES ($1, $2, $3, $4, $5, true, 0)",
            [(u, hashed, role, scope, display) for u, role, scope, display in accounts],
        )
    finally:
        await conn.close()


async def redemption_setup(url: str, community: str, rounds: int) -> list[dict[str, Any]]:
    """Per round a volunteer (opening balance, with its ledger row) and an item of the first community:
    `rounds` bound by points (ample stock), then one bound by stock (ample points)."""
    import asyncpg

    plan = [("points", OPENING, PRICE, 100_000)] * rounds
    plan.append(("stock", STOCK_ROUND["opening"], STOCK_ROUND["price"], STOCK_ROUND["stock"]))
    conn = await asyncpg.connect(asyncpg_dsn(url))
    out = []
    try:
        async with conn.transaction():
            for i, (bound, opening, price, stock) in enumerate(plan):
                item = await conn.fetchval(
                    "INSERT INTO wishes.catalogue_item (area_code, name, description, price, stock, active) "
                    "VALUES ($1, $2, '', $3, $4, true) RETURNING id",
                    community,
                    f"压测兑换品{i + 1}",
                    price,
                    stock,
                )
                vid = await conn.fetchval(
                    "INSERT INTO wishes.volunteer (name, phone, area_code, party_member, in_service, active, points) "
                    "VALUES ($1, $2, $3, true, true, true, $4) RETURNING id",
                    f"压测志愿者{i + 1}",
                    f"13700{i:06d}",
                    community,
                    opening,
                )
                await conn.execute(
                    "INSERT INTO wishes.points_entry (volunteer_id, kind, delta, balance_after, note, actor) "
                    "VALUES ($1, 'adjust', $2, $2, '期初积分', 'bench-seed')",
                    vid,
                    opening,
                )
                out.append(
                    {
                        "bound": bound,
                        "volunteer_id": vid,
                        "item_id": item,
                        "opening": opening,
                        "price": price,
                        "stock_before": stock,
                    }
                )
    finally:
        await conn.close()
    return out


# ---- bursts: N requests released at one instant -----------------------------------------------------


async def burst(url: str, specs: list[Any], method: str = "POST") -> dict[str, Any]:
    """Each request on its own keep-alive connection, opened and warmed (GET /healthz) beforehand,
    then all written at once; the burst's time runs from the release to the last complete answer."""
    from tools.loadgen import MAX_HEADER_BYTES, RequestSpec, build_spec_requests, read_response

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    raw = build_spec_requests(
        host=host,
        port=port,
        base_path=parts.path,
        method=method,
        headers=[],
        specs=specs,
        content_type="application/json",
    )
    warm = build_spec_requests(
        host=host,
        port=port,
        base_path="/healthz",
        method="GET",
        headers=[],
        specs=[RequestSpec([], None)],
        content_type="application/json",
    )[0]
    conns = [await asyncio.open_connection(host, port, limit=MAX_HEADER_BYTES) for _ in raw]
    try:
        for reader, writer in conns:
            writer.write(warm)
            status, _keep, _size = await read_response(reader)
            if status != 200:
                raise RuntimeError(f"warming a connection: GET /healthz answered {status}")
        go = asyncio.Event()

        async def one(i: int) -> tuple[int, float]:
            reader, writer = conns[i]
            await go.wait()
            writer.write(raw[i])
            status, _keep, _size = await read_response(reader)
            return status, time.perf_counter()

        tasks = [asyncio.create_task(one(i)) for i in range(len(raw))]
        await asyncio.sleep(0.05)  # every task waits on the event
        t0 = time.perf_counter()
        go.set()
        async with asyncio.timeout(60):
            done = await asyncio.gather(*tasks)
    finally:
        for _reader, writer in conns:
            writer.close()
    ends = [t for _s, t in done]
    statuses = [s for s, _t in done]
    return {
        "total_ms": round((max(ends) - t0) * 1000, 2),
        "first_ms": round((min(ends) - t0) * 1000, 2),
        "statuses": {str(s): statuses.count(s) for s in sorted(set(statuses))},
        "status_by_request": statuses,
    }


def _times(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    t = [r["total_ms"] for r in rounds]
    return {"rounds": len(t), "median_ms": round(statistics.median(t), 2), "max_ms": max(t), "min_ms": min(t)}


def baseline_bursts(server: Server, rounds: int) -> dict[str, Any]:
    """Bursts of 50 and 100 bare inserts: what a burst of single-row writes costs without the service."""
    from tools.loadgen import RequestSpec

    def specs(n: int) -> list[Any]:
        return [
            RequestSpec([], json.dumps({"body": f"burst row {i} {secrets.token_hex(8)}"}).encode())
            for i in range(n)
        ]

    out = {}
    for n, key_ in ((CLAIMANTS, "burst_50"), (REDEEMERS, "burst_100")):
        runs = [asyncio.run(burst(server.base + "/insert", specs(n))) for _ in range(rounds)]
        bad = [r["statuses"] for r in runs if r["statuses"] != {"201": n}]
        out[key_] = {**_times(runs), "all_201": not bad, "bad": bad[:3]}
        print(f"    baseline burst of {n} inserts: {out[key_]}", flush=True)
    return out


# ---- the checks -------------------------------------------------------------------------------------


async def _fetch(url: str, sql: str, *args: Any) -> list[Any]:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


def wall_check(base: str, url: str, liaison: str, service: str, community: str) -> dict[str, Any]:
    """The first page and total of each wall the load asks for, against the database."""
    offered = (
        "status = 'published' AND community_code = $1::text AND area_code LIKE $1::text || '%' AND (NOT directed OR "
        "EXISTS (SELECT 1 FROM wishes.wish_target t WHERE t.wish_id = w.id AND t.unit_id = "
        "(SELECT id FROM wishes.member_unit WHERE code = 'MU001')))"
    )
    cases = {
        "liaison MU001, its community": (liaison, {"area_code": community}, offered, [community]),
        "service, open wall of the community": (
            service,
            {"area_code": community},
            "status = 'published' AND NOT directed AND community_code = $1::text",
            [community],
        ),
        "service, open wall of the district": (
            service,
            {},
            "status = 'published' AND NOT directed AND area_code LIKE $1::text || '%'",
            [DISTRICT],
        ),
    }
    out = {}
    for label, (token, params, where, args) in cases.items():
        r = httpx.get(
            base + "/api/v1/wishes/wall",
            params={**params, "limit": 20},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        if r.status_code != 200:
            raise RuntimeError(f"wall check ({label}): {r.status_code} {r.text[:500]}")
        page = r.json()
        rows = asyncio.run(
            _fetch(
                url,
                f"SELECT id, (SELECT count(*) FROM wishes.wish w WHERE {where}) AS total FROM wishes.wish w "  # noqa: S608
                f"WHERE {where} ORDER BY published_at DESC, id DESC LIMIT 20",
                *args,
            )
        )
        expected_total = rows[0]["total"] if rows else 0
        out[label] = {
            "total": page["total"],
            "db_total": expected_total,
            "first_page_matches": [c["id"] for c in page["items"]] == [r["id"] for r in rows],
            "masked_or_private": all(
                c["resident_name"] is None or "*" in c["resident_name"] for c in page["items"]
            ),
        }
        out[label]["ok"] = (
            out[label]["total"] == expected_total
            and out[label]["first_page_matches"]
            and out[label]["masked_or_private"]
        )
    return out


async def claim_state(url: str, wish_ids: list[int]) -> dict[int, dict[str, Any]]:
    rows = await _fetch(
        url,
        "SELECT w.id, w.status, u.code AS unit, (SELECT count(*) FROM wishes.wish_event e WHERE e.wish_id = w.id "
        "AND e.action = 'claim') AS claims FROM wishes.wish w LEFT JOIN wishes.member_unit u ON "
        "u.id = w.claimant_unit_id WHERE w.id = ANY($1)",
        wish_ids,
    )
    return {r["id"]: dict(r) for r in rows}


async def ledger_state(url: str, r: dict[str, Any]) -> dict[str, Any]:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        balance = await conn.fetchval("SELECT points FROM wishes.volunteer WHERE id = $1", r["volunteer_id"])
        red = await conn.fetchrow(
            "SELECT count(*) AS n, coalesce(sum(points), 0) AS spent, coalesce(sum(quantity), 0) AS qty "
            "FROM wishes.redemption WHERE volunteer_id = $1 AND status = 'redeemed'",
            r["volunteer_id"],
        )
        entries = await conn.fetch(
            "SELECT kind, delta, balance_after FROM wishes.points_entry WHERE volunteer_id = $1 ORDER BY id",
            r["volunteer_id"],
        )
        stock = await conn.fetchval("SELECT stock FROM wishes.catalogue_item WHERE id = $1", r["item_id"])
    finally:
        await conn.close()
    running, chain_ok = 0, True
    for e in entries:
        running += e["delta"]
        chain_ok &= e["balance_after"] == running
    return {
        "balance": balance,
        "redemptions": red["n"],
        "spent": red["spent"],
        "quantity": red["qty"],
        "ledger_entries": len(entries),
        "redeem_entries": sum(1 for e in entries if e["kind"] == "redeem"),
        "ledger_sum": sum(e["delta"] for e in entries),
        "min_balance_after": min((e["balance_after"] for e in entries), default=0),
        "chain_ok": chain_ok,
        "stock_after": stock,
    }


# ---- the run ----------------------------------------------------------------------------------------


def wall_requests(
    path_params: list[dict[str, str]], tokens: list[str], rng: random.Random, n: int
) -> list[str]:
    """Request lines for the load generator: a user's token and a page of the wall (most ask the first
    page, some page on or filter by category)."""
    cats = list(CATEGORIES)
    lines = []
    for _ in range(n):
        params = dict(rng.choice(path_params))
        if rng.random() < 0.2:
            params["category"] = rng.choice(cats)
        params["limit"] = "20"
        params["offset"] = str(rng.choices((0, 20, 40, 60, 100), (70, 15, 8, 4, 3))[0])
        lines.append(
            json.dumps(
                {
                    "headers": {"Authorization": f"Bearer {rng.choice(tokens)}"},
                    "path": "/api/v1/wishes/wall?" + urlencode(params),
                },
                ensure_ascii=False,
            )
        )
    return lines


def has_route(base: str, path: str, method: str) -> bool:
    r = httpx.get(base + "/openapi.json", timeout=30)
    return r.status_code == 200 and method.lower() in r.json().get("paths", {}).get(path, {})


def bench(cfg: Config, args: argparse.Namespace, children: Children, work: Path) -> dict[str, Any]:
    res: dict[str, Any] = {
        "config": {
            "quick": cfg.quick,
            "duration": cfg.duration,
            "warmup": cfg.warmup,
            "concurrency": cfg.concurrency,
            "wall_concurrency": args.wall_concurrency,
            "wishes": args.wishes,
            "grids": args.grids,
            "claim_rounds": args.claim_rounds,
            "redeem_rounds": args.redeem_rounds,
        },
        "loadavg_at_start": [round(v, 2) for v in os.getloadavg()],
    }
    rng = random.Random(20261122)
    started = time.perf_counter()

    print("• database", flush=True)
    url, pg_pid = fresh_database(DATABASE)
    res["postgres"] = pg_info(url)
    layout = Layout(args.grids, 4)
    world = World(layout, layout.communities)
    community = world.community(0)
    admin, password = "bench-admin", secrets.token_urlsafe(18)
    res["seed_map"] = {
        k: v for k, v in asyncio.run(seed(url, layout, 400, admin, password)).items() if k != "building_codes"
    }
    print(f"• {args.wishes:,} wishes in {world.communities} communities ({layout.n_grids} grids)", flush=True)
    t0 = time.perf_counter()
    rows = generate(world, rng, args.wishes, datetime.now(UTC))
    generated_s = time.perf_counter() - t0
    res["seed"] = asyncio.run(load(url, rows))
    res["seed"]["generate_s"] = round(generated_s, 2)
    res["seed"]["communities"] = world.communities
    res["seed"]["busiest_community"] = community
    res["seed"]["busiest_community_published"] = asyncio.run(
        _fetch(
            url,
            "SELECT count(*) AS n FROM wishes.wish WHERE status = 'published' AND community_code = $1",
            community,
        )
    )[0]["n"]
    print(f"    {res['seed']}", flush=True)
    del rows

    codes = [f"MU{i:03d}" for i in range(1, CLAIMANTS + 1)]
    staff = [(f"bench-liaison-{c.lower()}", "unit_liaison", [c], f"联络员{c}") for c in codes]
    staff.append(("bench-community-admin", "community_admin", [community], "社区管理员"))
    asyncio.run(add_staff(url, staff, password))
    wishes_secret, mobile_secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    asyncio.run(_service_account(url, wishes_secret, "wishes"))
    asyncio.run(_service_account(url, mobile_secret, "mobile"))
    plan = asyncio.run(redemption_setup(url, community, args.redeem_rounds))

    res["baseline_insert"] = insert_baseline(
        children, cfg, url, work, pg_pid, also=lambda s: baseline_bursts(s, args.claim_rounds)
    )

    registry, env = start_registry(children, url, work, wishes_secret, None, service="wishes")
    env["WISHES_MEDIA_DIR"] = str(work / "media")
    t0 = time.perf_counter()
    wishes = start_uvicorn(
        children, "wishes", "services.wishes.app:create_app", env, work, "/readyz", factory=True
    )
    res["wishes_startup_s"] = round(time.perf_counter() - t0, 2)
    liaisons = {c: login(registry.base, f"bench-liaison-{c.lower()}", password) for c in codes}
    admin_token = login(registry.base, "bench-community-admin", password)
    mobile_token = login(registry.base, "svc-mobile", mobile_secret, service=True)
    watch = {"wishes": wishes.proc.pid, "registry": registry.proc.pid, "postgres": pg_pid}

    res["wall_check"] = wall_check(wishes.base, url, liaisons["MU001"], mobile_token, community)
    print(f"    wall check: {res['wall_check']}", flush=True)

    res["healthz"] = run_load(
        children,
        "wishes GET /healthz",
        cfg,
        url=wishes.base + "/healthz",
        concurrency=cfg.concurrency,
        watch=watch,
    )

    # ---- the wish wall ----
    communities = [{"area_code": world.community(c)} for c in range(world.communities)]
    weighted = rng.choices(communities, world.weights, k=400)
    walls = {
        "liaison": (
            "50 liaisons (MU001–MU050), their community's wall",
            [{"area_code": community}],
            list(liaisons.values()),
        ),
        "service_community": (
            "mobile service, open wall of a community (weighted)",
            weighted,
            [mobile_token],
        ),
        "service_district": ("mobile service, open wall of the whole district", [{}], [mobile_token]),
    }
    res["wall"] = {}
    for key_, (label, params, tokens) in walls.items():
        requests_file = write_lines(work / f"wall-{key_}.jsonl", wall_requests(params, tokens, rng, 4000))
        os.chmod(requests_file, 0o600)
        res["wall"][key_] = {}
        for c in args.wall_concurrency:
            r = run_load(
                children,
                f"wishes GET /api/v1/wishes/wall, {label}",
                cfg,
                url=wishes.base,
                concurrency=c,
                requests_file=requests_file,
                watch=watch,
            )
            r["label"] = label
            res["wall"][key_][str(c)] = r
    res["explain"] = asyncio.run(explain_wall(url, community))

    # ---- the claim race ----
    from tools.loadgen import RequestSpec

    res["healthz_burst"] = bursts(
        wishes.base + "/healthz", [RequestSpec([], None)] * CLAIMANTS, args.claim_rounds, "GET", watch
    )
    open_ids = asyncio.run(
        _fetch(
            url,
            "SELECT id FROM wishes.wish WHERE status = 'published' AND NOT directed AND community_code = $1 "
            "ORDER BY id",
            community,
        )
    )
    race = rng.sample([r["id"] for r in open_ids], args.claim_rounds)
    res["claims"] = claim_race(wishes.base, url, liaisons, race, rng, watch)

    # ---- redemptions ----
    if has_route(wishes.base, "/api/v1/redemptions", "post"):
        res["redemptions"] = redemptions(wishes.base, url, admin_token, plan, watch)
    else:
        res["redemptions"] = {
            "missing": "POST /api/v1/redemptions is not in the wishes service's OpenAPI yet"
        }
        print(f"    {res['redemptions']['missing']}", flush=True)

    res["wishes_log_tail"] = wishes.log_tail(30)
    children.stop(wishes.proc)
    children.stop(registry.proc)
    res["total_s"] = round(time.perf_counter() - started, 1)
    return res


def claim_race(
    base: str,
    url: str,
    liaisons: dict[str, str],
    race: list[int],
    rng: random.Random,
    watch: dict[str, int | None],
) -> dict[str, Any]:
    """Per wish, every liaison claims it at once (written in a shuffled order); then the database must
    show the one that got 200 as the claimant, with one claim on the trail."""
    from tools.loadgen import RequestSpec

    print(f"• claim race: {len(race)} rounds × {len(liaisons)} units on one wish each", flush=True)
    wait_for_quiet(watch)
    rounds = []
    for wid in race:
        codes = rng.sample(list(liaisons), len(liaisons))
        specs = [RequestSpec([("Authorization", f"Bearer {liaisons[c]}")], b"{}") for c in codes]
        r = asyncio.run(burst(f"{base}/api/v1/wishes/{wid}/claim", specs))
        winners = [codes[i] for i, s in enumerate(r.pop("status_by_request")) if s == 200]
        r.update({"wish_id": wid, "winners": winners})
        rounds.append(r)
    state = asyncio.run(claim_state(url, race))
    loser = next(c for c in liaisons if c not in rounds[0]["winners"])
    late = httpx.post(
        f"{base}/api/v1/wishes/{race[0]}/claim",
        json={},
        headers={"Authorization": f"Bearer {liaisons[loser]}"},
        timeout=30,
    )
    for r in rounds:
        s = state[r["wish_id"]]
        r["db"] = {"status": s["status"], "claimant": s["unit"], "claim_events": s["claims"]}
        r["ok"] = (
            r["statuses"] == {"200": 1, "409": len(liaisons) - 1}
            and s["status"] == "claimed"
            and r["winners"] == [s["unit"]]
            and s["claims"] == 1
        )
    out = {
        **_times(rounds),
        "all_ok": all(r["ok"] for r in rounds),
        "under_target": all(r["total_ms"] < CLAIM_MAX_S * 1000 for r in rounds),
        "late_claim": {"status": late.status_code, "type": late.json().get("type")},
        "rounds_detail": rounds,
    }
    print(
        f"    median {out['median_ms']} ms, max {out['max_ms']} ms; every round one 200 and "
        f"{len(liaisons) - 1} 409s, the database agreeing: {out['all_ok']}; a late claim: {out['late_claim']}",
        flush=True,
    )
    return out


def bursts(
    url: str, specs: list[Any], rounds: int, method: str, watch: dict[str, int | None]
) -> dict[str, Any]:
    wait_for_quiet(watch)
    runs = [asyncio.run(burst(url, specs, method)) for _ in range(rounds)]
    out = {**_times(runs), "all_2xx": all(set(r["statuses"]) == {"200"} for r in runs)}
    print(f"    burst of {len(specs)} × {method} {urlsplit(url).path}: {out}", flush=True)
    return out


def redemptions(
    base: str, url: str, token: str, plan: list[dict[str, Any]], watch: dict[str, int | None]
) -> dict[str, Any]:
    from tools.loadgen import RequestSpec

    print(f"• redemptions: {len(plan)} rounds × {REDEEMERS} at once against one balance", flush=True)
    wait_for_quiet(watch)
    auth = {"Authorization": f"Bearer {token}"}
    rounds = []
    for p in plan:
        body = json.dumps(
            {"volunteer_id": p["volunteer_id"], "item_id": p["item_id"], "quantity": 1}
        ).encode()
        # each its own request, as a till would send it: its own idempotency key
        specs = [
            RequestSpec([("Authorization", f"Bearer {token}"), ("Idempotency-Key", str(uuid.uuid4()))], body)
            for _ in range(REDEEMERS)
        ]
        r = asyncio.run(burst(base + "/api/v1/redemptions", specs))
        r.pop("status_by_request")
        db = asyncio.run(ledger_state(url, p))
        # one more, after the burst: refused, and with which problem
        late = httpx.post(
            base + "/api/v1/redemptions",
            content=body,
            headers={**auth, "Content-Type": "application/json"},
            timeout=30,
        )
        ok_n = r["statuses"].get("201", 0)
        expected = min(p["opening"] // p["price"], p["stock_before"])
        checks = {
            "successes × price ≤ opening balance": ok_n * p["price"] <= p["opening"],
            "successes as many as balance and stock allow": ok_n == expected,
            "final balance = opening − spent": db["balance"] == p["opening"] - db["spent"],
            "spent = successes × price": db["spent"] == ok_n * p["price"],
            "ledger deltas sum to the balance": db["ledger_sum"] == db["balance"],
            "one redeem entry per success": db["redeem_entries"] == ok_n == db["redemptions"],
            "each balance_after = previous + delta (by id)": db["chain_ok"],
            "no balance_after < 0": db["min_balance_after"] >= 0,
            "stock = before − redeemed": db["stock_after"] == p["stock_before"] - db["quantity"],
            "every refusal a 409": set(r["statuses"]) <= {"201", "409"},
            "a late one: 409 " + ("insufficient-points" if p["bound"] == "points" else "out-of-stock"): (
                late.status_code == 409
                and str(late.json().get("type", "")).endswith(
                    "insufficient-points" if p["bound"] == "points" else "out-of-stock"
                )
            ),
        }
        r.update(
            {
                **p,
                "expected_successes": expected,
                "db": db,
                "checks": checks,
                "ok": all(checks.values()),
                "late": {"status": late.status_code, "type": late.json().get("type")},
            }
        )
        rounds.append(r)
        print(
            f"    {p['bound']}-bound: {r['total_ms']} ms, statuses {r['statuses']}, balance {p['opening']} → "
            f"{db['balance']}, stock {p['stock_before']} → {db['stock_after']}; "
            + ("all checks hold" if r["ok"] else f"FAILED: {[k for k, v in checks.items() if not v]}"),
            flush=True,
        )
    points = [r for r in rounds if r["bound"] == "points"]
    return {**_times(points), "all_ok": all(r["ok"] for r in rounds), "rounds_detail": rounds}


async def explain_wall(url: str, community: str) -> dict[str, Any]:
    """EXPLAIN ANALYZE of the wall's count and first page, with the conditions the service builds
    (`service.wishes.offered_to` for MU001's liaison; published and not directed for the open wall),
    run after the load: what to look at when the p99 misses."""
    import asyncpg
    from sqlalchemy import and_, func, select
    from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg

    from services.wishes.models import MemberUnit, Wish
    from services.wishes.service.wishes import offered_to

    unit = MemberUnit(id=1, code="MU001", area_code=community)
    walls = {
        "liaison MU001, its community": and_(offered_to(unit), Wish.community_code == community),
        "open wall, district": and_(Wish.status == "published", Wish.directed.is_(False)),
    }
    order = (Wish.published_at.desc(), Wish.id.desc())
    conn = await asyncpg.connect(asyncpg_dsn(url))
    out = {}
    try:
        for label, where in walls.items():
            for what, stmt in (
                ("count", select(func.count()).select_from(Wish).where(where)),
                ("first page", select(Wish.id).where(where).order_by(*order).limit(20)),
            ):
                # the asyncpg dialect: its SQL keeps LIKE's % as is
                sql = str(stmt.compile(dialect=pg_asyncpg.dialect(), compile_kwargs={"literal_binds": True}))
                await conn.fetch(sql)  # warm
                plan = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                out[f"{label}: {what}"] = [r[0] for r in plan]
    finally:
        await conn.close()
    return out


# ---- the report -------------------------------------------------------------------------------------


def figures(res: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []

    def add(name: str, value: str, target: str, ok: bool | None) -> None:
        rows.append({"figure": name, "value": value, "target": target, "ok": ok})

    c = res["config"]["concurrency"]
    b, hz = res["baseline_insert"], res["healthz"]
    add(
        f"baseline FastAPI + asyncpg insert @{c}",
        f"{b['rps']:,.0f} rps, p50 {b['p50_ms']:.1f} ms, p99 {b['p99_ms']:.1f} ms",
        "reference",
        None,
    )
    add(
        f"wishes GET /healthz @{c} (the service's bare stack)",
        f"{hz['rps']:,.0f} rps, p50 {hz['p50_ms']:.1f} ms, p99 {hz['p99_ms']:.1f} ms",
        "reference",
        None,
    )
    published = res["seed"]["status_mix"].get("published", 0)
    for by_c in res["wall"].values():
        for cc, r in by_c.items():
            bad = r["errors"] + sum(r["non_2xx"].values())
            add(
                f"wish wall @{cc}: {r['label']} ({res['config']['wishes']:,} wishes, {published:,} published)",
                f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms; {r['rps']:,.0f} rps = "
                f"{r['rps'] / hz['rps']:.2f} × healthz, {r['rps'] / b['rps']:.2f} × insert baseline; "
                f"wishes CPU {server_ms_per_request(r):.1f} ms per request (healthz "
                f"{server_ms_per_request(hz):.1f})"
                + (f"; {bad} non-2xx/errors" if bad else "")
                + (
                    f"; ⚠ other processes {r['other_cpu_pct']:.0f}% of a core"
                    if r.get("other_cpu_pct", 0) >= 20
                    else ""
                ),
                f"p99 < {WALL_MAX_P99_MS:.0f} ms",
                r["p99_ms"] < WALL_MAX_P99_MS and not bad,
            )
    bb50, bb100, hb = b["burst_50"], b["burst_100"], res["healthz_burst"]
    add(
        f"baseline: {CLAIMANTS} inserts at once",
        f"median {bb50['median_ms']:.1f} ms, max {bb50['max_ms']:.1f} ms ({bb50['rounds']} rounds)",
        "reference",
        None,
    )
    add(
        f"wishes: {CLAIMANTS} × GET /healthz at once",
        f"median {hb['median_ms']:.1f} ms, max {hb['max_ms']:.1f} ms ({hb['rounds']} rounds)",
        "reference",
        None,
    )
    cl = res["claims"]
    add(
        f"claim race: {CLAIMANTS} units claim one wish at once, {cl['rounds']} rounds on {cl['rounds']} wishes",
        f"median {cl['median_ms']:.0f} ms, max {cl['max_ms']:.0f} ms = {cl['median_ms'] / bb50['median_ms']:.1f} × "
        f"the {CLAIMANTS}-insert burst, {cl['median_ms'] / hb['median_ms']:.1f} × the healthz burst (medians)",
        f"every round < {CLAIM_MAX_S:.0f} s",
        cl["under_target"],
    )
    bad_rounds = [r for r in cl["rounds_detail"] if not r["ok"]]
    add(
        "claim race: outcome of every round",
        (
            f"all {cl['rounds']} rounds: one 200 and {CLAIMANTS - 1} 409s; the database shows that unit as the "
            "claimant with one claim on the trail"
            if not bad_rounds
            else f"{len(bad_rounds)} round(s) wrong, e.g. {json.dumps({k: bad_rounds[0][k] for k in ('wish_id', 'statuses', 'winners', 'db')}, ensure_ascii=False)}"
        )
        + f"; a late claim: {cl['late_claim']['status']} {str(cl['late_claim']['type']).rsplit('/', 1)[-1]}",
        f"exactly one 200, {CLAIMANTS - 1} × 409",
        not bad_rounds and cl["late_claim"]["status"] == 409,
    )
    rd = res["redemptions"]
    if "missing" in rd:
        add(
            f"redemptions: {REDEEMERS} at once against one balance",
            rd["missing"],
            "ledger never negative",
            False,
        )
        return rows
    points = [r for r in rd["rounds_detail"] if r["bound"] == "points"]
    add(
        f"redemptions: {REDEEMERS} at once against one balance ({OPENING:,} points, price {PRICE}), {len(points)} rounds",
        f"median {rd['median_ms']:.0f} ms, max {rd['max_ms']:.0f} ms = {rd['median_ms'] / bb100['median_ms']:.1f} × the "
        f"{REDEEMERS}-insert burst (medians); statuses {points[0]['statuses']}",
        "report",
        None,
    )
    for r in rd["rounds_detail"]:
        if r is not points[0] and r["bound"] == "points":
            continue
        failed = [k for k, v in r["checks"].items() if not v]
        others = (
            ""
            if r["bound"] != "points"
            else f" (and the same in all {len(points)} rounds)"
            if all(p["ok"] for p in points)
            else f" ({sum(not p['ok'] for p in points)} of {len(points)} rounds failed)"
        )
        add(
            f"redemptions, {r['bound']}-bound: {r['opening']:,} points, price {r['price']}, stock {r['stock_before']:,}",
            f"{r['statuses'].get('201', 0)} × 201 (expected {r['expected_successes']}), {r['statuses'].get('409', 0)} × 409 "
            f"in {r['total_ms']:.0f} ms; balance {r['opening']:,} → {r['db']['balance']:,} (spent {r['db']['spent']:,}), "
            f"ledger sum {r['db']['ledger_sum']:,}, lowest balance_after {r['db']['min_balance_after']:,}, stock → "
            f"{r['db']['stock_after']:,}; late one: {r['late']['status']} {str(r['late']['type']).rsplit('/', 1)[-1]}"
            + others
            + (f"; failed: {', '.join(failed)}" if failed else ""),
            "ledger never negative, balance = opening − spent = Σ deltas, the rest 409",
            r["ok"] and (r["bound"] != "points" or all(p["ok"] for p in points)),
        )
    return rows


def server_ms_per_request(r: dict[str, Any]) -> float:
    """CPU milliseconds the server under test (wishes, or the baseline) spent per request sent."""
    pct = r.get("wishes_cpu_pct", r.get("server_cpu_pct", 0.0))
    return 10.0 * pct * r.get("cpu_window_s", 0.0) / max(r["requests_issued"], 1)


def wall_detail(res: dict[str, Any]) -> str:
    out = [
        "| Run | Clients | Requests | rps | p50 | p95 | p99 | max | non-2xx / errors | server CPU | server CPU "
        "per request | registry CPU | postgres CPU | loadgen CPU | other CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    runs = [
        res["baseline_insert"],
        res["healthz"],
        *(r for by_c in res["wall"].values() for r in by_c.values()),
    ]
    for r in runs:
        bad = r["errors"] + sum(r["non_2xx"].values())
        out.append(
            f"| {r['label']} | {r['concurrency']} | {r['requests']:,} | {r['rps']:,.0f} | {r['p50_ms']:.1f} ms | "
            f"{r['p95_ms']:.1f} ms | {r['p99_ms']:.1f} ms | {r['max_ms']:.1f} ms | {bad} | "
            f"{r.get('wishes_cpu_pct', r.get('server_cpu_pct', 0)):.0f}% | {server_ms_per_request(r):.1f} ms | "
            f"{r.get('registry_cpu_pct', 0):.0f}% | "
            f"{r.get('postgres_cpu_pct', 0):.0f}% | {r['loadgen_cpu_pct']:.0f}% | {r.get('other_cpu_pct', 0):.0f}% |"
        )
    return "\n".join(out)


def report(res: dict[str, Any], table: str) -> str:
    env, pg, cfg, seed_ = res["environment"], res["postgres"], res["config"], res["seed"]
    held = {
        next(iter(by_c.values()))["label"]: [cc for cc, r in by_c.items() if r["p99_ms"] < WALL_MAX_P99_MS]
        for by_c in res["wall"].values()
    }
    claims = res["claims"]["rounds_detail"]
    lines = [
        "# Wishes benchmark",
        "",
        f"{env['date']} · commit {env['git_commit']} · {'quick run' if cfg['quick'] else 'full run'} · total "
        f"{res['total_s']:.0f} s",
        "",
        table,
        "",
        f"**Machine: {env['cores_logical']} cores** ({env['cpu_model']}), {env['memory_gb']} GB RAM. The load "
        "generator (and the burst client, this process), the wishes service, the registry and PostgreSQL all run "
        "on this one machine and share those cores: read the ratios more than the absolute numbers. "
        f"PostgreSQL {pg['version'].split(',')[0]} (embedded; fsync {pg['fsync']}, synchronous_commit "
        f"{pg['synchronous_commit']}). Python {env['python']}; servers are uvicorn (1 process, uvloop, httptools).",
        "",
        f"Wall p99 < {WALL_MAX_P99_MS:.0f} ms holds at: "
        + "; ".join(f"{label} — {', '.join(v) or 'no'} client(s)" for label, v in held.items())
        + f" (measured at {', '.join(str(c) for c in cfg['wall_concurrency'])}). On a saturated single "
        "process, latency is mostly queueing (p50 ≈ clients / rps). *Postgres CPU* counts the whole "
        "pg-bench cluster, whatever else uses it; *other* is everything outside the benchmark.",
        "",
        "## Data",
        "",
        f"{cfg['wishes']:,} wishes over {res['seed_map']['grids']:,} grids in {seed_['communities']} communities, "
        "written with COPY "
        f"({seed_['copy_s']} s, then VACUUM ANALYZE {seed_['vacuum_analyze_s']} s): "
        + ", ".join(f"{k} {v:,}" for k, v in seed_["status_mix"].items())
        + f". The liaisons' community {seed_['busiest_community']} is the busiest, with "
        f"{seed_['busiest_community_published']:,} published wishes. Rows: "
        + ", ".join(f"{k} {v:,}" for k, v in seed_["rows"].items())
        + ".",
        "",
        "Wall answers checked against the database before the load: "
        + "; ".join(
            f"{k}: total {v['total']:,} (database {v['db_total']:,}), first page "
            f"{'matches' if v['first_page_matches'] else 'DIFFERS'}"
            for k, v in res["wall_check"].items()
        )
        + ".",
        "",
        "## Load runs",
        "",
        f"Closed loop, HTTP/1.1 keep-alive, {cfg['warmup']:g} s warm-up + {cfg['duration']:g} s measured. Wall "
        "requests: 70% the first page of 20, the rest deeper pages; 20% filtered by category. CPU is % of one core.",
        "",
        wall_detail(res),
        "",
        "## Claim rounds",
        "",
        "| Round | Wish | Total | First answer | Statuses | Winner | Database |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {i + 1} | {r['wish_id']} | {r['total_ms']:.0f} ms | {r['first_ms']:.0f} ms | "
            f"{', '.join(f'{k}: {v}' for k, v in r['statuses'].items())} | {', '.join(r['winners'])} | "
            f"{r['db']['status']}, {r['db']['claimant']}, {r['db']['claim_events']} claim event(s) |"
            for i, r in enumerate(claims)
        ),
        "",
    ]
    rd = res["redemptions"]
    if "rounds_detail" in rd:
        lines += [
            "## Redemption rounds",
            "",
            "| Round | Bound by | Total | Statuses | Balance | Spent | Ledger Σ | Stock | Checks |",
            "|---|---|---|---|---|---|---|---|---|",
            *(
                f"| {i + 1} | {r['bound']} | {r['total_ms']:.0f} ms | "
                f"{', '.join(f'{k}: {v}' for k, v in r['statuses'].items())} | {r['opening']:,} → "
                f"{r['db']['balance']:,} | {r['db']['spent']:,} | {r['db']['ledger_sum']:,} | {r['stock_before']:,} → "
                f"{r['db']['stock_after']:,} | {'all hold' if r['ok'] else 'FAILED: ' + ', '.join(k for k, v in r['checks'].items() if not v)} |"
                for i, r in enumerate(rd["rounds_detail"])
            ),
            "",
        ]
    lines += [
        "## Wall query plans (EXPLAIN ANALYZE, after the load)",
        "",
        *(f"**{k}**\n\n```\n" + "\n".join(v) + "\n```\n" for k, v in res["explain"].items()),
        "Raw figures: wishes.json.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="GridGov wishes benchmark; report in bench/results/")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--duration", type=float)
    p.add_argument("--warmup", type=float)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--grids", type=int, default=800, help="grids of the map (40 per community)")
    p.add_argument("--wishes", type=int, default=100_000)
    p.add_argument("--wall-concurrency", default="1,8,32", help="comma-separated client counts")
    p.add_argument("--claim-rounds", type=int, help="claim races (default 20; quick 10)")
    p.add_argument("--redeem-rounds", type=int, help="points-bound redemption rounds (default 5; quick 2)")
    args, _unknown = p.parse_known_args(argv)  # make bench passes the registry's options too
    args.wall_concurrency = [int(c) for c in str(args.wall_concurrency).split(",") if c.strip()]
    args.claim_rounds = args.claim_rounds or (10 if args.quick else 20)
    args.redeem_rounds = args.redeem_rounds or (2 if args.quick else 5)
    cfg = Config.for_service(args)
    return run_part(
        "wishes",
        lambda children, work: bench(cfg, args, children, work),
        figures,
        markdown,
        report,
    )


if __name__ == "__main__":
    sys.exit(main())
