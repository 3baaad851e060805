

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
