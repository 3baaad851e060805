async def test_mobile_starts_and_serves_its_docs_under_m(mobile):
    r = await mobile.get("/healthz")
    assert r.status_code == 200
    r = await mobile.get("/m/openapi.json")
    assert r.status_code == 200
    assert r.json()["info"]["title"].startswith("GridGov Mobile")
    assert (await mobile.get("/m/docs")).status_code == 200
