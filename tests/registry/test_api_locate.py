from __future__ import annotations

from tests.registry.builders import X0, Y0, H, W, rect


class TestLocateByPoint:
    async def test_point_resolves_to_the_whole_chain(self, registry, world, token):
        r = await registry.get(
            "/api/v1/locate",
            params={"lat": Y0 + H / 2, "lng": X0 + W / 4},
            headers=token("department_handler", "CGJ"),
        )
        assert r.status_code == 200
        body = r.json()
        assert body["micro_grid"]["code"] == "320411001001001001"
        assert body["grid"]["code"] == "320411001001001"
        assert body["community"]["name"] == "龙锦社区"
        assert body["street"]["code"] == "320411001"
        assert body["district"]["code"] == "320411"

    async def test_point_in_a_grid_without_micro_grid_cover_returns_the_grid(self, registry, world, token):
        admin = token("district_admin", "320411")
        r = await registry.post(
            "/api/v1/grids",
            headers=admin,
            json={
                "level": "grid",
                "code": "320411001001009",
                "name": "新网格",
                "parent_id": world.communities[0].id,
                "boundary": rect(X0, Y0 + 2 * H, X0 + W, Y0 + 3 * H),
            },
        )
        assert r.status_code == 201, r.text
        r = await registry.get(
            "/api/v1/locate", params={"lat": Y0 + 2.5 * H, "lng": X0 + W / 2}, headers=admin
        )
        assert r.status_code == 200
        assert r.json()["grid"]["code"] == "320411001001009"
        assert r.json()["micro_grid"] is None

    async def test_point_outside_every_grid_is_a_404_problem(self, registry, world, token):
        r = await registry.get("/api/v1/locate", params={"lat": 39.9, "lng": 116.4}, headers=token("service"))
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"
        assert "39.9" in r.json()["detail"]

    async def test_coordinates_outside_china_are_rejected(self, registry, world, token):
        r = await registry.get("/api/v1/locate", params={"lat": 48.85, "lng": 2.35}, headers=token("service"))
        assert r.status_code == 422
        assert r.json()["errors"][0]["loc"] == ["query", "lng"]

    async def test_locate_needs_a_token(self, registry, world):
        r = await registry.get("/api/v1/locate", params={"lat": Y0, "lng": X0})
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"


class TestLocateByAddress:
    async def test_full_address_matches_the_building(self, registry, world, token):
        r = await registry.get(
            "/api/v1/locate",
            params={"address": "江苏省常州市新北区三井街道龙锦社区测试苑2幢1单元101室"},
            headers=token("service"),
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["building"]["name"].endswith("2幢")
        assert body["micro_grid"]["code"] == world.micro[1].code
        assert 0.6 <= body["score"] <= 1.0

    async def test_colloquial_building_words_match(self, registry, world, token):
        r = await registry.get("/api/v1/locate", params={"address": "测试苑3号楼"}, headers=token("service"))
        assert r.status_code == 200
        assert r.json()["building"]["name"].endswith("3幢")

    async def test_community_name_alone_matches_the_community(self, registry, world, token):
        r = await registry.get("/api/v1/locate", params={"address": "春江社区"}, headers=token("service"))
        assert r.status_code == 200
        assert r.json()["community"]["name"] == "春江社区"
        assert r.json()["building"] is None

    async def test_unknown_address_is_404(self, registry, world, token):
        r = await registry.get(
            "/api/v1/locate", params={"address": "北京市朝阳区建国路88号"}, headers=token("service")
        )
        assert r.status_code == 404

    async def test_neither_point_nor_address_is_422(self, registry, world, token):
        r = await registry.get("/api/v1/locate", headers=token("service"))
        assert r.status_code == 422


class TestMapForServices:
    async def test_the_map_carries_boundaries_and_a_revision_etag(self, registry, token, world):
        h = token("service", "dispatch")
        r = await registry.get("/api/v1/map", headers=h)
        assert r.status_code == 200
        body = r.json()
        by_code = {a["code"]: a for a in body["areas"]}
        assert by_code["320411001001001"]["boundary"]["type"] == "Polygon"
        assert by_code["320411001"]["boundary"] is None and by_code["320411001"]["name"] == "三井街道"
        assert r.headers["etag"] == f'"map-{body["rev"]}"'

    async def test_an_unchanged_map_is_a_bodiless_304(self, registry, token, world):
        h = token("service", "dispatch")
        etag = (await registry.get("/api/v1/map", headers=h)).headers["etag"]
        r = await registry.get("/api/v1/map", headers={**h, "If-None-Match": etag})
        assert r.status_code == 304 and r.content == b""

    async def test_only_services_and_district_admins_read_the_whole_map(self, registry, token, world):
        r = await registry.get("/api/v1/map", headers=token("grid_worker", "320411001001001"))
        assert r.status_code == 403
