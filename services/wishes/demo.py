"""Demo data for the wishes service, loaded once by `make run` after the registry's demo.

龙锦社区's big party committee: 30 member units of all five kinds with their resource lists (this half
year and the last), the needs list, this year's projects with quarterly progress and reviews; 40
volunteers with opening balances; the points rules and the points supermarket with a few redemptions;
and some forty-five wishes of real registry residents (read over the registry's REST API) in every state.

The wishes are not written as rows: the demo replays half a year of history through the service's own
functions (submit, approve, publish, claim, start, complete, confirm, close, cancel, the lapse and
auto-confirm jobs), so every trail, proof photo and ledger row is what the service itself wrote. The
steps of all wishes and redemptions run in time order, with the service clocks set to each step's
moment: the trail and the ledger are append-only, so their times cannot be corrected afterwards.

    python -m services.wishes.demo                        # the registry at WISHES_REGISTRY_URL
    python -m services.wishes.demo --registry-in-process  # `make run`: before the registry serves

A second run finds the units in place and leaves everything as it is.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.wishes import demo_data as d
from services.wishes.clients import RegistryClient
from services.wishes.clock import frozen_at, now_utc
from services.wishes.models import (
    CatalogueItem,
    CommunityNeed,
    MemberUnit,
    Photo,
    PointsRule,
    Project,
    ProjectProgress,
    UnitResource,
    Volunteer,
)
from services.wishes.photos import store_photo
from services.wishes.points import service as points
from services.wishes.points.schemas import AdjustmentCreate, RedemptionCreate
from services.wishes.schemas import ClaimBody, CompleteBody, PublishBody, ServedBy, WishCreate
from services.wishes.service import wishes
from services.wishes.service.wishes import Viewer
from services.wishes.settings import WishesSettings, get_settings
from shared.auth import SERVICE_ROLE, STAFF_AUDIENCE, Principal
from shared.db import make_engine, make_sessionmaker
from shared.http import ServiceToken, make_http_client, raise_for_upstream

SEED = 20261122
ADMIN = "longjin-admin"
MOBILE = "svc-mobile"  # the mobile API's account: residents order and confirm in the mini-program
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁沈姚卢姜钟陆汪范金"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红建国志文斌波辉宁鹏飞婷雪慧琳晨浩宇欣怡"


@dataclass(frozen=True)
class DemoResident:
    """A registry resident, as the list endpoint shows them (phone and identity number masked)."""

    id: int
    name: str
    age: int
    tags: tuple[str, ...]
    area_code: str


async def is_loaded(session: AsyncSession) -> bool:
    return (
        await session.execute(select(MemberUnit.id).where(MemberUnit.code == "MU001"))
    ).first() is not None


async def fetch_residents(registry: RegistryClient, community: str = d.COMMUNITY[0]) -> list[DemoResident]:
    """Residents of the community from the registry's REST API: a few pages spread over the whole
    community (so wishes come from every grid), and the residents with the tags the wishes look for."""

    async def page(**params: Any) -> dict[str, Any]:
        r = await registry.request(
            "GET", "/api/v1/residents", params={"area_code": community, **params}, as_service=True
        )
        raise_for_upstream(r, "registry")
        return orjson.loads(r.content)

    total = (await page(limit=1))["total"]
    queries = [{"offset": off} for off in sorted({total * k // 6 for k in range(6)})]
    queries += [{"tag": t} for t in ("独居老人", "残疾人", "困难群众", "志愿者", "在职党员双报到")]
    seen: dict[int, DemoResident] = {}
    for q in queries:  # one by one: a test's in-process registry shares a single connection
        for r in (await page(limit=100, **q))["items"]:
            seen[r["id"]] = DemoResident(r["id"], r["name"], r["age"], tuple(r["tags"]), r["area_code"])
    return sorted(seen.values(), key=lambda r: r.id)


# ---- the clock -----------------------------------------------------------------------------------------


def clock(at: datetime) -> AbstractContextManager[None]:
    """Run the service at `at` (the service's own clock, services/wishes/clock.py)."""
    return frozen_at(at)


def daytime(at: datetime) -> datetime:
    """The moment squeezed into 8:00–21:00 China time of its day. Order is kept (the map rises
    monotonically), so a history drawn round the clock reads like office hours."""
    local = at + timedelta(hours=8)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + timedelta(hours=8) + (local - midnight) * 13 / 24 - timedelta(hours=8)


def half_year(day: date) -> str:
    return f"{day.year}H{1 if day.month <= 6 else 2}"


def cst(day: date, hour: int = 9) -> datetime:
    """9:00 China time on a day, in UTC."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC) - timedelta(hours=8)


# ---- pictures ----------------------------------------------------------------------------------------


def picture(rng: random.Random, label: str) -> bytes:
    """A small JPEG that looks like a snapshot: a wall, a floor, a window, a thing, and a caption."""
    w, h = 480, 360
    wall = tuple(rng.randint(170, 235) for _ in range(3))
    img = Image.new("RGB", (w, h), wall)
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, int(h * 0.68), w, h), fill=tuple(max(0, c - 70) for c in wall))
    wx = rng.randint(20, 260)
    draw.rectangle((wx, 40, wx + 150, 150), fill=(168, 206, 235), outline=(90, 90, 90), width=4)
    draw.line((wx + 75, 40, wx + 75, 150), fill=(90, 90, 90), width=3)
    x, y = rng.randint(60, 300), rng.randint(150, 190)
    thing = tuple(rng.randint(30, 200) for _ in range(3))
    if rng.random() < 0.5:
        draw.rectangle((x, y, x + rng.randint(80, 140), y + rng.randint(70, 110)), fill=thing)
    else:
        draw.ellipse((x, y, x + rng.randint(70, 120), y + rng.randint(70, 120)), fill=thing)
    draw.rectangle((0, h - 28, w, h), fill=(20, 20, 20))
    draw.text((10, h - 21), label, fill=(240, 240, 240))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80)
    return out.getvalue()


# ---- the loader ----------------------------------------------------------------------------------------


@dataclass
class Plan:
    """One wish being replayed: its spec, resident, and what the flow has made of it so far."""

    spec: d.W
    resident: DemoResident
    grid_code: str
    wish_id: int = 0
    volunteer_id: int | None = None  # the volunteer named on the claim


@dataclass(order=True)
class Step:
    at: datetime
    seq: int
    run: Callable[[], Awaitable[None]] = field(compare=False)


class Loader:
    def __init__(
        self,
        session: AsyncSession,
        registry: RegistryClient,
        residents: Sequence[DemoResident],
        settings: WishesSettings,
        now: datetime,
        seed: int,
        written: list[Path],
    ) -> None:
        self.s, self.registry, self.settings, self.now = session, registry, settings, now
        self.today = (now + timedelta(hours=8)).date()
        self.rng = random.Random(seed)
        self.residents = list(residents)
        self.used: set[int] = set()
        self.written = written
        self.units: dict[str, MemberUnit] = {}
        self.unit_volunteers: dict[str, list[Volunteer]] = {}
        self.plain: list[Volunteer] = []
        self.volunteers: list[Volunteer] = []
        self.items: dict[str, CatalogueItem] = {}
        self.steps: list[Step] = []
        self.photos = 0

    # -- people

    def person(self) -> str:
        name = self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)
        return name + self.rng.choice(GIVEN) if self.rng.random() < 0.7 else name

    def mobile(self, taken: set[str]) -> str:
        while True:
            phone = f"1{self.rng.choice('3578')}{self.rng.randint(0, 999_999_999):09d}"
            if phone not in taken:
                taken.add(phone)
                return phone

    def resident_for(self, category: str) -> DemoResident:
        """A resident who fits the wish (an elder for 助老, a parent's age for 助学 ...), each once while
        there are enough."""
        ages = {
            "助老": (65, 120),
            "医疗健康": (58, 120),
            "助学": (30, 50),
            "就业": (22, 55),
            "助残": (30, 120),
            "助困": (30, 120),
        }.get(category, (25, 120))
        wanted = {"助老": ("独居老人",), "助残": ("残疾人",), "助困": ("困难群众",)}.get(category, ())
        free = [r for r in self.residents if r.id not in self.used]
        for pool in (
            [r for r in free if set(wanted) & set(r.tags) and ages[0] <= r.age <= ages[1]],
            [r for r in free if ages[0] <= r.age <= ages[1]],
            [r for r in free if r.age >= 18],
            free,
            self.residents,
        ):
            if pool:
                r = self.rng.choice(pool)
                self.used.add(r.id)
                return r
        raise RuntimeError("the registry listed no residents in the community")

    # -- reference data

    async def load_units(self) -> None:
        this, last = half_year(self.today), half_year(self.today.replace(day=1) - timedelta(days=183))
        this_start = date(self.today.year, 1 if this.endswith("H1") else 7, 1)
        last_start = date(int(last[:4]), 1 if last.endswith("H1") else 7, 1)
        phones: set[str] = set()
        for u in d.UNITS:
            area = d.STREET if u.street else d.COMMUNITY
            joined = date(u.joined, self.rng.randint(3, 11), self.rng.randint(1, 28))
            landline = u.kind in ("党政机关", "群团组织") or self.rng.random() < 0.3
            unit = MemberUnit(
                code=u.code,
                name=u.name,
                kind=u.kind,
                area_code=area[0],
                area_name=area[1],
                address=f"新北区{u.address}",
                contact_name=self.person(),
                contact_phone=f"0519-8{self.rng.randint(0, 9_999_999):07d}"
                if landline
                else self.mobile(phones),
                party_members=u.party_members,
                active=True,
                joined_on=joined,
                created_at=cst(joined),
                updated_at=cst(this_start + timedelta(days=self.rng.randint(1, 20))),
            )
            self.s.add(unit)
            self.units[u.code] = unit
        await self.s.flush()
        for u in d.UNITS:
            unit = self.units[u.code]
            for period, start, lines in ((this, this_start, u.resources), (last, last_start, u.history)):
                for r in lines:
                    self.s.add(
                        UnitResource(
                            unit_id=unit.id,
                            period=period,
                            kind=r.kind,
                            title=r.title,
                            description=r.description,
                            categories=list(r.categories),
                            capacity=r.capacity,
                            created_at=cst(start + timedelta(days=self.rng.randint(2, 25))),
                        )
                    )
        await self.s.flush()

    async def load_lists(self) -> None:
        for n in d.NEEDS:
            at = self.now - timedelta(days=n.days_ago, hours=self.rng.randint(0, 8))
            self.s.add(
                CommunityNeed(
                    area_code=d.COMMUNITY[0],
                    category=n.category,
                    title=n.title,
                    description=n.description,
                    source=n.source,
                    households=n.households,
                    status=n.status,
                    unit_id=self.units[n.unit].id if n.unit else None,
                    created_by=ADMIN,
                    created_at=at,
                    updated_at=at + timedelta(days=self.rng.randint(3, min(30, n.days_ago))),
                )
            )
        year = self.today.year
        quarter_ends = {1: date(year, 3, 31), 2: date(year, 6, 30), 3: date(year, 9, 30), 4: self.today}
        for p in d.PROJECTS:
            unit = self.units[p.unit] if p.unit else None
            claimed = None
            if p.claimed_month:  # never in the future, whenever the demo is loaded
                claimed = min(
                    cst(date(year, p.claimed_month, self.rng.randint(3, 25))), self.now - timedelta(days=20)
                )
            project = Project(
                area_code=d.COMMUNITY[0],
                year=year,
                title=p.title,
                description=p.description,
                category=p.category,
                budget=Decimal(p.budget) if p.budget is not None else None,
                status=p.status,
                unit_id=unit.id if unit else None,
                claimed_at=claimed,
                created_by=ADMIN,
                created_at=cst(date(year, 1, 8)),
            )
            if p.review:
                project.review_score = Decimal(str(p.review[0]))
                project.review_note = p.review[1]
                project.reviewed_by = ADMIN
                project.reviewed_at = cst(self.today - timedelta(days=self.rng.randint(3, 10)), 15)
            self.s.add(project)
            await self.s.flush()
            reporter = d.LIAISONS.get(p.unit or "", ADMIN)
            for quarter, percent, note in p.progress:
                if date(year, quarter * 3 - 2, 1) > self.today - timedelta(days=12):
                    continue
                day = min(quarter_ends[quarter], self.today - timedelta(days=12))
                self.s.add(
                    ProjectProgress(
                        project_id=project.id,
                        quarter=quarter,
                        percent=percent,
                        note=note,
                        reported_by=reporter,
                        reported_at=cst(day, 16),
                    )
                )
        await self.s.flush()

    async def load_volunteers(self, opened: datetime) -> None:
        """In-service party members of the units (some of them live here), then plain volunteers; the
        opening balances carried over from the paper records are `adjust` rows of the ledger."""
        phones: set[str] = set()
        reported = [r for r in self.residents if "在职党员双报到" in r.tags and 22 <= r.age <= 60]
        helpers = [r for r in self.residents if "志愿者" in r.tags and 18 <= r.age <= 72]
        helpers += [r for r in self.residents if 20 <= r.age <= 68 and r not in helpers]
        for code, n in d.UNIT_VOLUNTEERS.items():
            for _ in range(n):
                lives_here = bool(reported) and self.rng.random() < 0.35
                r = reported.pop(self.rng.randrange(len(reported))) if lives_here else None
                if r is not None:
                    self.used.add(r.id)
                v = self.volunteer(r.name if r else self.person(), self.mobile(phones), opened)
                v.unit_id, v.resident_id = self.units[code].id, r.id if r else None
                v.party_member, v.in_service = code != "MU019" or self.rng.random() < 0.5, code != "MU019"
                self.unit_volunteers.setdefault(code, []).append(v)
        for _ in range(d.PLAIN_VOLUNTEERS):
            r = helpers.pop(self.rng.randrange(len(helpers))) if helpers else None
            if r is not None:
                self.used.add(r.id)
            v = self.volunteer(r.name if r else self.person(), self.mobile(phones), opened)
            v.resident_id, v.party_member, v.in_service = r.id if r else None, self.rng.random() < 0.3, False
            self.plain.append(v)
        await self.s.flush()
        spend = {i: 0 for i in range(len(self.volunteers))}
        for idx, name, qty, _days, _why in d.REDEMPTIONS:
            spend[idx] += next(c[2] for c in d.CATALOGUE if c[0] == name) * qty
        admin = self.staff(ADMIN, "community_admin", d.COMMUNITY[0]).principal
        with clock(opened):
            for i, v in enumerate(self.volunteers):
                opening = max(spend[i] + self.rng.randint(0, 30), self.rng.choice((0, 0, 10, 20, 35, 60, 90)))
                if opening:
                    note = "期初积分：上半年线下志愿服务记录结转"
                    await points.adjust(self.s, admin, v.id, AdjustmentCreate(delta=opening, note=note))

    def volunteer(self, name: str, phone: str, opened: datetime) -> Volunteer:
        v = Volunteer(
            name=name,
            phone=phone,
            area_code=d.COMMUNITY[0],
            active=True,
            points=0,
            created_at=opened - timedelta(days=self.rng.randint(1, 400)),
        )
        self.s.add(v)
        self.volunteers.append(v)
        return v

    async def load_supermarket(self, opened: datetime) -> None:
        for name, category, per_wish, per_hour, active in d.RULES:
            self.s.add(
                PointsRule(
                    name=name,
                    category=category,
                    points=per_wish,
                    points_per_hour=per_hour,
                    active=active,
                    created_by=ADMIN,
                    created_at=opened - timedelta(days=200 if not active else 2),
                )
            )
        for name, description, price, stock in d.CATALOGUE:
            item = CatalogueItem(
                area_code=d.COMMUNITY[0],
                name=name,
                description=description,
                price=price,
                stock=stock,
                active=True,
                created_at=opened,
                updated_at=opened,
            )
            self.s.add(item)
            self.items[name] = item
        await self.s.flush()
        for idx, name, qty, days, why in d.REDEMPTIONS:
            at = daytime(self.now - timedelta(days=days, hours=self.rng.randint(1, 6)))
            self.schedule(at, self.redeem(idx, name, qty, at, why))

    def redeem(
        self, idx: int, name: str, qty: int, at: datetime, why: str | None
    ) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            counter = self.staff(ADMIN, "community_admin", d.COMMUNITY[0]).principal
            body = RedemptionCreate(
                volunteer_id=self.volunteers[idx].id, item_id=self.items[name].id, quantity=qty
            )
            red, _ = await points.redeem(self.s, counter, body, None)
            if why:
                with clock(at + timedelta(hours=2)):
                    await points.cancel_redemption(self.s, counter, red.id, why)

        return run

    # -- actors

    @staticmethod
    def staff(sub: str, role: str, *scope: str, unit: MemberUnit | None = None) -> Viewer:
        return Viewer(Principal(sub=sub, role=role, scope=scope, audience=STAFF_AUDIENCE, expires_at=0), unit)

    def grid_worker(self, plan: Plan) -> Viewer:
        return self.staff(f"longjin-grid{int(plan.grid_code[-3:]):02d}", "grid_worker", plan.grid_code)

    def admin(self) -> Viewer:
        return self.staff(ADMIN, "community_admin", d.COMMUNITY[0])

    @staticmethod
    def resident_app() -> Viewer:
        return Viewer(Principal(sub=MOBILE, role=SERVICE_ROLE, scope=(), audience="", expires_at=0))

    def claimant(self, plan: Plan, by: str) -> Viewer:
        """A unit with a liaison account acts itself; for the others and for volunteers the grid worker
        records the claim and the work (they phoned in)."""
        if by in d.LIAISONS:
            return self.staff(d.LIAISONS[by], "unit_liaison", by, unit=self.units[by])
        return self.grid_worker(plan)

    # -- wishes

    def schedule(self, at: datetime, run: Callable[[], Awaitable[None]]) -> None:
        self.steps.append(Step(at, len(self.steps), run))

    def plan_wish(self, spec: d.W) -> None:
        """Turn a wish's spec into timed steps: the gaps between steps are drawn first, then the whole
        history is placed so that its last step lies `spec.age` days back."""
        resident = self.resident_for(spec.category)
        plan = Plan(spec, resident, grid_code=resident.area_code[:15])
        r = self.rng.uniform
        # the jobs' runs come half a day after the limit: `daytime` may move a step by up to 11 hours
        lapse_h = self.settings.claim_lapse_days * 24 + r(12, 20)
        confirm_h = self.settings.auto_confirm_days * 24 + r(12, 20)
        steps: list[tuple[float, Callable[[], Awaitable[None]]]] = [(0, self.submit(plan))]
        end = spec.end
        if end == "rejected":
            steps.append((r(3, 30), self.act(plan, "reject")))
        elif end == "cancelled" and spec.app and not spec.by:
            steps.append((r(4, 40), self.act(plan, "cancel")))
        elif end not in ("submitted",):
            steps.append((r(2, 28), self.act(plan, "approve")))
        path = ("published", "claimed", "in_progress", "completed", "confirmed", "closed")
        if end == "cancelled":  # by the resident before review, off the wall, or from a claimant's hands
            reach = -1 if spec.app and not spec.by else 1 if spec.by else 0
        else:
            reach = path.index(end) if end in path else -1
        if reach >= 0:
            steps.append((r(1, 20), self.act(plan, "publish")))
        if reach >= 1:
            if spec.first:
                steps.append((r(3, 60), self.act(plan, "claim", by=spec.first)))
                if spec.twist == "lapse":
                    steps.append((lapse_h, self.job("lapse")))
                else:
                    steps.append((r(12, 48), self.act(plan, "withdraw", by=spec.first)))
            steps.append((r(3, 72), self.act(plan, "claim", by=spec.by)))
        if end == "cancelled" and reach >= 0:
            steps.append((r(6, 72), self.act(plan, "cancel")))
        if reach >= 2:
            steps.append((r(2, 40), self.act(plan, "start", by=spec.by)))
        if reach >= 3:
            steps.append((r(20, 120), self.act(plan, "complete", by=spec.by)))
            if spec.twist == "dispute":
                steps.append((r(6, 30), self.act(plan, "dispute")))
                steps.append((r(24, 72), self.act(plan, "complete", by=spec.by)))
        if reach >= 4:
            if spec.twist == "auto_confirm":
                steps.append((confirm_h, self.job("auto_confirm")))
            else:
                steps.append((r(3, 40), self.act(plan, "confirm")))
        if reach >= 5:
            steps.append((r(2, 48), self.act(plan, "close")))
        last = self.now - timedelta(days=spec.age, hours=r(0, min(3, spec.age * 6)))
        times = [last - timedelta(hours=sum(gap for gap, _ in steps[i + 1 :])) for i in range(len(steps))]
        if daytime(times[-1]) < self.now - timedelta(minutes=10):  # else it would move into the future
            times = [daytime(t) for t in times]
        for at, (_, run) in zip(times, steps, strict=True):
            self.schedule(at, run)

    def submit(self, plan: Plan) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            spec = plan.spec
            who = self.resident_app().principal if spec.app else self.grid_worker(plan).principal
            photo_ids = [await self.photo("request", who.sub)] if spec.photo else []
            body = WishCreate(
                resident_id=plan.resident.id,
                category=spec.category,
                title=spec.title,
                description=spec.description,
                estimated_value=Decimal(spec.value),
                wanted_by=self.today + timedelta(days=spec.wanted_in) if spec.wanted_in else None,
                privacy=spec.privacy,
                photo_ids=photo_ids,
            )
            wish, _ = await wishes.submit(self.s, who, self.registry, body)
            plan.wish_id, plan.grid_code = wish.id, wish.grid_code

        return run

    def job(self, name: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            now = now_utc()
            if name == "lapse":
                days = self.settings.claim_lapse_days
                await wishes.lapse_claims(self.s, older_than=timedelta(days=days), now=now, batch=100)
            else:
                days = self.settings.auto_confirm_days
                await wishes.auto_confirm(self.s, older_than=timedelta(days=days), now=now, batch=100)

        return run

    def act(self, plan: Plan, action: str, by: str | None = None) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            spec, wid = plan.spec, plan.wish_id
            note = self.rng.choice
            if action == "approve":
                await wishes.approve(self.s, self.grid_worker(plan), wid, note(d.APPROVE_NOTES))
            elif action == "reject":
                await wishes.reject(self.s, self.grid_worker(plan), wid, spec.note)
            elif action == "publish":
                ids = [self.units[c].id for c in spec.directed]
                body = PublishBody(unit_ids=ids, note="定向派单给对口成员单位" if ids else None)
                await wishes.publish(self.s, self.grid_worker(plan), wid, body)
            elif action == "claim":
                assert by is not None
                body = self.claim_body(by)
                wish = await wishes.claim(self.s, self.claimant(plan, by), wid, body)
                plan.volunteer_id = wish.claimant_volunteer_id
            elif action == "withdraw":
                assert by is not None
                await wishes.withdraw(self.s, self.claimant(plan, by), wid, d.WITHDRAW_NOTE)
            elif action == "start":
                assert by is not None
                await wishes.start(self.s, self.claimant(plan, by), wid, "已联系居民，约定上门时间。")
            elif action == "complete":
                assert by is not None
                viewer = self.claimant(plan, by)
                proof = [
                    await self.photo(f"wish #{wid} done", viewer.principal.sub)
                    for _ in range(self.rng.randint(1, 2))
                ]
                served = self.served(by, plan.volunteer_id, spec.hours)
                body = CompleteBody(note=spec.done, proof_photo_ids=proof, served=served)
                await wishes.complete(self.s, viewer, wid, body)
            elif action == "dispute":
                await wishes.dispute(self.s, self.resident_app(), wid, plan.resident.id, d.DISPUTE_NOTE)
            elif action == "confirm":
                if spec.app or self.rng.random() < 0.5:
                    await wishes.confirm(
                        self.s, self.resident_app(), wid, plan.resident.id, note(d.CONFIRM_NOTES)
                    )
                else:  # an elder without a smartphone: the grid worker confirms on their behalf
                    await wishes.confirm(
                        self.s, self.grid_worker(plan), wid, None, "电话回访，居民确认已完成。"
                    )
            elif action == "close":
                closer = self.admin() if self.rng.random() < 0.3 else self.grid_worker(plan)
                await wishes.close(self.s, closer, wid, note(d.CLOSE_NOTES))
            elif action == "cancel":
                if spec.app:
                    await wishes.cancel(self.s, self.resident_app(), wid, plan.resident.id, spec.note)
                else:
                    await wishes.cancel(self.s, self.grid_worker(plan), wid, None, spec.note)

        return run

    def claim_body(self, by: str) -> ClaimBody:
        if by == "V":
            return ClaimBody(volunteer_id=self.rng.choice(self.plain).id)
        members = self.unit_volunteers.get(by, [])
        lead = self.rng.choice(members).id if members and self.rng.random() < 0.6 else None
        unit_id = None if by in d.LIAISONS else self.units[by].id
        return ClaimBody(unit_id=unit_id, volunteer_id=lead)

    def served(self, by: str, lead: int | None, hours: float) -> list[ServedBy]:
        """Who served and how long: the volunteer named on the claim, and for a unit one more of its
        members at times. A unit without volunteers (a shop's owner) earns no points."""
        ids = [lead] if lead else []
        others = [v.id for v in self.unit_volunteers.get(by, []) if v.id != lead]
        if others and (not ids or self.rng.random() < 0.4):
            ids.append(self.rng.choice(others))
        return [ServedBy(volunteer_id=i, hours=hours) for i in ids]

    async def photo(self, label: str, by: str) -> uuid.UUID:
        at = now_utc()
        data = picture(self.rng, f"GridGov {label}  {at + timedelta(hours=8):%Y-%m-%d %H:%M}")
        s = self.settings
        stored = await store_photo(
            data, s.media_dir, max_bytes=s.photo_max_bytes, max_pixels=s.photo_max_pixels
        )
        self.written.append(s.media_dir / stored.path)
        self.s.add(
            Photo(
                id=stored.id,
                sha256=stored.sha256,
                content_type=stored.content_type,
                size=stored.size,
                width=stored.width,
                height=stored.height,
                path=stored.path,
                uploaded_by=by,
                created_at=at,
            )
        )
        await self.s.flush()
        self.photos += 1
        return stored.id

    async def run(self) -> dict[str, int]:
        opened = cst(self.today - timedelta(days=185))
        await self.load_units()
        await self.load_lists()
        await self.load_volunteers(opened)
        await self.load_supermarket(opened)
        for spec in d.WISHES:
            self.plan_wish(spec)
        for step in sorted(self.steps):
            with clock(step.at):
                await step.run()
        return {
            "units": len(self.units),
            "volunteers": len(self.volunteers),
            "wishes": len(d.WISHES),
            "photos": self.photos,
            "redemptions": len(d.REDEMPTIONS),
        }


async def load(
    session: AsyncSession,
    registry: RegistryClient,
    residents: Sequence[DemoResident],
    settings: WishesSettings,
    *,
    now: datetime | None = None,
    seed: int = SEED,
    written: list[Path] | None = None,
) -> dict[str, int]:
    """Load the demo in the caller's transaction (flushed, not committed). Returns counts. `written`
    collects the photo files stored, for the caller to remove if the transaction does not commit."""
    written = written if written is not None else []
    loader = Loader(session, registry, residents, settings, now or datetime.now(UTC), seed, written)
    return await loader.run()


# ---- the command ---------------------------------------------------------------------------------------


@asynccontextmanager
async def registry_client(settings: WishesSettings, *, in_process: bool) -> AsyncIterator[RegistryClient]:
    """The registry's REST API as the service's own client (svc-wishes). In process, the registry app
    runs inside this command over ASGI: `make run` loads the demo before it starts any server."""
    async with AsyncExitStack() as stack:
        transport = None
        base = settings.registry_url
        if in_process:
            # a dev tool's shortcut, not a service dependency: the registry's own app and settings
            from services.registry.app import create_app

            app = create_app(background=False, configure_logs=False)
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            base = "http://registry"
        http = make_http_client(base, transport=transport)
        stack.push_async_callback(http.aclose)
        token = ServiceToken(http, client_id=settings.client_id, client_secret=settings.client_secret)
        yield RegistryClient(http, service_token=token)


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--registry-in-process",
        action="store_true",
        help="run the registry app inside this command instead of calling WISHES_REGISTRY_URL",
    )
    args = parser.parse_args(argv)
    settings = get_settings()
    engine = make_engine(settings.database_url, pool_size=2, statement_timeout_ms=60_000)
    maker = make_sessionmaker(engine)
    written: list[Path] = []
    try:
        async with maker() as session:
            if await is_loaded(session):
                print("wishes demo data already loaded")
                return
        async with registry_client(settings, in_process=args.registry_in_process) as registry:
            residents = await fetch_residents(registry)
            try:
                async with maker() as session, session.begin():
                    counts = await load(session, registry, residents, settings, written=written)
            except BaseException:
                for path in written:
                    path.unlink(missing_ok=True)
                raise
        print(f"wishes demo data loaded: {counts}")
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
