from __future__ import annotations

import pytest
from sqlalchemy import func, select

from services.registry.models import Area
from tests.registry.builders import X0, Y0, H, W, rect

ADMIN = ("district_admin", "320411")


async def post_new_grid(registry, token, world, *, name, boundary):
    """A grid 320411001001009 in 龙锦社区, as a district admin."""
    body = {
        "level": "grid",
        "code": "320411001001009",
        "name": name,
        "parent_id": world.communities[0].id,
        "boundary": boundary,
    }
    return await registry.post("/api/v1/grids", headers=token(*ADMIN), json=body)


async def post_community(registry, token, *, code, name, parent_id):
    body = {"level": "community", "code": code, "name": name, "parent_id": parent_id}
    return await registry.post("/api/v1/areas", headers=token(*ADMIN), json=body)


class TestHierarchy:
    async def test_a_community_is_created_under_a_street(self, registry, world, token):
        r = await post_community(
            registry, token, code="320411001009", name="新社区", parent_id=world.streets[0].id
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["parent_id"] == world.streets[0].id
        assert body["code"] == "320411001009"
        r = await registry.get(
            "/api/v1/areas", params={"parent_id": world.streets[0].id}, headers=token(*ADMIN)
        )
        assert "320411001009" in [a["code"] for a in r.json()["items"]]

    async def test_unknown_parent_is_a_422_that_names_it(self, registry, world, token):
        r = await registry.post(
            "/api/v1/areas",
            headers=token(*ADMIN),
            json={"level": "community", "code": "320411001009", "name": "新社区", "parent_id": 999999},
        )
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        assert "999999" in r.json()["detail"]

    async def test_parent_of_the_wrong_level_is_refused(self, registry, world, token):
        r = await registry.post(
            "/api/v1/areas",
            headers=token(*ADMIN),
            json={
                "level": "grid",
                "code": "320411001001009",
                "name": "网格",
                "parent_id": world.streets[0].id,
            },
        )
        assert r.status_code == 422
        assert "belongs to a community" in r.json()["detail"]

    async def test_code_must_extend_the_parent_code(self, registry, world, token):
        r = await post_community(
            registry, token, code="320411002009", name="新社区", parent_id=world.streets[0].id
        )
        assert r.status_code == 422
        assert "320411001" in r.json()["detail"]

    async def test_code_length_must_fit_the_level(self, registry, world, token):
        r = await post_community(
            registry, token, code="3204110010", name="新社区", parent_id=world.streets[0].id
        )
        assert r.status_code == 422
        assert "12 digits" in r.json()["detail"]

    async def test_duplicate_code_is_a_conflict(self, registry, world, token):
        r = await post_community(
            registry, token, code=world.communities[0].code, name="重复", parent_id=world.streets[0].id
        )
        assert r.status_code == 409

    async def test_area_with_children_cannot_be_deleted(self, registry, world, token):
        r = await registry.delete(f"/api/v1/areas/{world.grids[0].id}", headers=token(*ADMIN))
        assert r.status_code == 409
        assert "child areas" in r.json()["detail"]

    async def test_empty_area_can_be_deleted(self, registry, world, token):
        r = await post_community(
            registry, token, code="320411001009", name="临时", parent_id=world.streets[0].id
        )
        r = await registry.delete(f"/api/v1/areas/{r.json()['id']}", headers=token(*ADMIN))
        assert r.status_code == 204

    async def test_grid_list_carries_polygons(self, registry, world, token):
        r = await registry.get("/api/v1/grids", headers=token(*ADMIN))
        assert r.status_code == 200
        body = r.json()
        assert body["total"] == 3
        assert body["items"][0]["boundary"]["type"] == "Polygon"
        assert body["items"][0]["area_m2"] > 100_000
        r = await registry.get(f"/api/v1/grids/{world.grids[1].id}", headers=token(*ADMIN))
        assert r.json()["grid_kind"] == "commercial"

    async def test_grid_list_filters_by_kind(self, registry, world, token):
        r = await registry.get("/api/v1/grids", params={"grid_kind": "commercial"}, headers=token(*ADMIN))
        assert [g["code"] for g in r.json()["items"]] == [world.grids[1].code]

    async def test_pagination_reports_total(self, registry, world, token):
        r = await registry.get("/api/v1/areas", params={"limit": 2, "offset": 1}, headers=token(*ADMIN))
        body = r.json()
        assert body["limit"] == 2 and body["offset"] == 1
        assert len(body["items"]) == 2
        assert body["total"] == 1 + 2 + 2 + 3 + 6


class TestPolygonRules:
    async def test_overlapping_grid_is_refused_naming_the_other(self, registry, world, token, session):
        before = (await session.execute(select(func.count()).select_from(Area))).scalar_one()
        r = await post_new_grid(
            registry, token, world, name="重叠网格", boundary=rect(X0 + W / 2, Y0, X0 + W * 1.5, Y0 + H)
        )
        assert r.status_code == 409
        body = r.json()
        assert body["overlaps"]["code"] == world.grids[0].code
        assert world.grids[0].name in body["detail"]
        after = (await session.execute(select(func.count()).select_from(Area))).scalar_one()
        assert after == before

    async def test_touching_grids_share_an_edge(self, registry, world, token):
        r = await post_new_grid(
            registry, token, world, name="邻接网格", boundary=rect(X0 + 2 * W, Y0, X0 + 3 * W, Y0 + H)
        )
        assert r.status_code == 201, r.text

    async def test_self_intersecting_polygon_is_refused(self, registry, world, token):
        bowtie = {
            "type": "Polygon",
            "coordinates": [
                [
                    [X0, Y0 + 5 * H],
                    [X0 + W, Y0 + 6 * H],
                    [X0 + W, Y0 + 5 * H],
                    [X0, Y0 + 6 * H],
                    [X0, Y0 + 5 * H],
                ]
            ],
        }
        r = await post_new_grid(registry, token, world, name="蝴蝶", boundary=bowtie)
        assert r.status_code == 422
        assert "Self-intersection" in r.json()["detail"]

    @pytest.mark.parametrize(
        "boundary,fragment",
        [
            ({"type": "Point", "coordinates": [X0, Y0]}, "Polygon or MultiPolygon"),
            (
                {"type": "Polygon", "coordinates": [[[2.3, 48.8], [2.4, 48.8], [2.4, 48.9], [2.3, 48.8]]]},
                "outside China",
            ),
            (
                {"type": "Polygon", "coordinates": [[[Y0, X0], [Y0 + H, X0], [Y0 + H, X0 + W], [Y0, X0]]]},
                "outside China",
            ),
            ({"type": "Polygon", "coordinates": "nope"}, "malformed"),
        ],
    )
    async def test_bad_geometry_is_refused(self, registry, world, token, boundary, fragment):
        r = await post_new_grid(registry, token, world, name="坏", boundary=boundary)
        assert r.status_code == 422
        assert fragment in r.json()["detail"]

    async def test_micro_grid_must_lie_inside_its_grid(self, registry, world, token):
        r = await registry.post(
            "/api/v1/areas",
            headers=token(*ADMIN),
            json={
                "level": "micro_grid",
                "code": world.grids[0].code + "009",
                "name": "越界",
                "parent_id": world.grids[0].id,
                "boundary": rect(X0 + W * 0.9, Y0, X0 + W * 1.2, Y0 + H / 4),
            },
        )
        assert r.status_code == 422
        assert "inside its grid" in r.json()["detail"]

    async def test_shrinking_a_grid_away_from_its_micro_grids_is_refused(self, registry, world, token):
        r = await registry.patch(
            f"/api/v1/grids/{world.grids[0].id}",
            headers=token(*ADMIN),
            json={"boundary": rect(X0, Y0, X0 + W / 4, Y0 + H)},
        )
        assert r.status_code == 422
        assert "Micro-grid" in r.json()["detail"]

    async def test_editing_a_boundary_moves_locate(self, registry, world, token):
        admin = token(*ADMIN)
        grid3 = world.grids[2]
        # grow grid 3 upwards (its micro-grids stay inside), then a point above its old edge locates there
        r = await registry.patch(
            f"/api/v1/grids/{grid3.id}",
            headers=admin,
            json={"boundary": rect(X0 + 4 * W, Y0, X0 + 5 * W, Y0 + 2 * H)},
        )
        assert r.status_code == 200, r.text
        r = await registry.get(
            "/api/v1/locate", params={"lat": Y0 + 1.5 * H, "lng": X0 + 4.5 * W}, headers=admin
        )
        assert r.status_code == 200
        assert r.json()["grid"]["code"] == grid3.code


class TestSizingNorms:
    async def test_oversized_micro_grid_is_warned_not_refused(self, registry, world, token, session):
        from services.registry.models import Household

        b = world.buildings[0]
        session.add_all(
            [
                Household(
                    code=f"{b.code}-9-{i}",
                    building_id=b.id,
                    area_code=b.area_code,
                    unit_no="9",
                    room_no=str(i),
                )
                for i in range(101)
            ]
        )
        await session.commit()
        r = await registry.get(f"/api/v1/areas/{world.micro[0].id}", headers=token(*ADMIN))
        assert r.status_code == 200
        assert any("micro-grid has 103 households" in w for w in r.json()["warnings"])
        r = await registry.get(f"/api/v1/areas/{world.micro[1].id}", headers=token(*ADMIN))
        assert r.json()["warnings"] == []

    async def test_stats_count_people_by_area_and_tag(self, registry, world, token):
        r = await registry.get(f"/api/v1/areas/{world.communities[0].id}/stats", headers=token(*ADMIN))
        assert r.status_code == 200
        body = r.json()
        assert body["households"] == 8  # 4 micro-grids × 1 building × 2 households
        assert body["residents"] == 16
        expected_alone = sum(
            1 for x in world.residents if x.area_code.startswith("320411001001") and "独居老人" in x.tags
        )
        assert body["by_tag"].get("独居老人", 0) == expected_alone
        assert [c["area"]["code"] for c in body["children"]] == [g.code for g in world.grids[:2]]
        assert body["children"][0]["residents"] == 8
