"""The demo district that `make run` loads: shape, validity and working accounts."""

from __future__ import annotations

import itertools

from shapely.geometry import shape
from sqlalchemy import func, select

from services.registry import demo
from services.registry.models import Area, Household, Resident
from services.registry.service.geo import area_m2, parse_boundary
from shared.auth import STAFF_ROLES


async def test_demo_district_is_modelled_on_a_real_community(registry, registry_app, session):
    data = await demo.load(session, registry_app.state.codec)
    await session.commit()
    counts = data["counts"]
    assert counts["households"] > 4000 and counts["residents"] > 10000

    longjin = (await session.execute(select(Area).where(Area.code == "320411001001"))).scalar_one()
    grids = (await session.execute(select(Area).where(Area.parent_id == longjin.id))).scalars().all()
    assert len(grids) == 10
    assert sorted(g.grid_kind for g in grids).count("residential") == 7
    micro = (
        await session.execute(
            select(func.count())
            .select_from(Area)
            .where(Area.level == "micro_grid", Area.code.startswith("320411001001"))
        )
    ).scalar_one()
    assert micro == 44
    assert (
        await session.execute(select(func.count()).select_from(Area).where(Area.level == "community"))
    ).scalar_one() == 4
    assert (
        await session.execute(select(func.count()).select_from(Area).where(Area.level == "street"))
    ).scalar_one() == 2

    # every polygon is valid and no two grids overlap
    all_grids = (await session.execute(select(Area).where(Area.level == "grid"))).scalars().all()
    geoms = [parse_boundary(g.boundary) for g in all_grids]
    for a, b in itertools.combinations(geoms, 2):
        assert area_m2(a.intersection(b)) < 1.0
    # residential grids hold about 400 households
    hh = (
        await session.execute(
            select(func.count()).select_from(Household).where(Household.area_code.startswith(grids[0].code))
        )
    ).scalar_one()
    assert 380 <= hh <= 400

    roles = {a["role"] for a in data["accounts"]}
    assert set(STAFF_ROLES) <= roles
    assert all(len(a["password"]) >= 16 for a in data["accounts"])
    assert len(data["residents"]) >= 3

    # a demo account logs in; a demo resident's details match exactly one resident
    acct = next(a for a in data["accounts"] if a["role"] == "grid_worker")
    r = await registry.post(
        "/api/v1/auth/token", data={"username": acct["username"], "password": acct["password"]}
    )
    assert r.status_code == 200
    res = data["residents"][0]
    rows = (await session.execute(select(Resident).where(Resident.phone == res["phone"]))).scalars().all()
    assert len(rows) == 1 and rows[0].id_masked.endswith(res["id_last4"])

    await registry_app.state.geo.refresh_if_stale(registry_app.state.sessionmaker)
    centre = shape(grids[0].boundary).centroid
    tok = {"Authorization": f"Bearer {r.json()['access_token']}"}
    loc = await registry.get("/api/v1/locate", params={"lat": centre.y, "lng": centre.x}, headers=tok)
    assert loc.json()["grid"]["code"] == grids[0].code


async def test_reloading_is_detected(registry_app, session):
    assert not await demo.is_loaded(session)
    await demo.load(session, registry_app.state.codec)
    assert await demo.is_loaded(session)
    fresh = await demo.reset_passwords(session, ["admin"])
    assert fresh[0]["username"] == "admin" and fresh[0]["password"]
