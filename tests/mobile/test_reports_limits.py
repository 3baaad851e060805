"""Report limits (per resident, per network address), outages of dispatch and the registry, and which
address is the client's."""

from __future__ import annotations

import math

import httpx
import pytest

from services.mobile.clients.dispatch import DispatchClient
from services.mobile.clients.registry import RegistryClient
from services.mobile.reports.geo import outline_of
from services.mobile.reports.service import client_ip
from tests.mobile.residents import resident
from tests.mobile.test_reports_create import BEIJING, counts, jpeg, post_report, problem


def _down(exc: type[Exception] = httpx.ConnectError) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc("connection refused", request=request)

    return httpx.MockTransport(handler)


@pytest.fixture
async def alice(mobile, session, world):  # type: ignore[no-untyped-def]
    return await resident(mobile, session, world, 0, openid="alice")


@pytest.fixture
def swap_state(mobile_app):  # type: ignore[no-untyped-def]
    """Set `mobile_app.state.<name>` for one test (pytest's monkeypatch deletes State attributes on undo)."""
    saved: dict[str, object] = {}

    def swap(name: str, value: object) -> object:
        saved.setdefault(name, getattr(mobile_app.state, name))
        setattr(mobile_app.state, name, value)
        return saved[name]

    yield swap
    for name, value in saved.items():
        setattr(mobile_app.state, name, value)


def registry_client_down(mobile_app) -> RegistryClient:  # type: ignore[no-untyped-def]
    return RegistryClient(
        httpx.AsyncClient(base_url="http://registry", transport=_down()),
        service_token=mobile_app.state.registry._service_token,
    )


def dispatch_client_down(mobile_app) -> DispatchClient:  # type: ignore[no-untyped-def]
    return DispatchClient(
        httpx.AsyncClient(base_url="http://dispatch", transport=_down()),
        service_token=mobile_app.state.dispatch._service_token,
    )


@pytest.fixture
def dispatch_down(mobile_app, swap_state):  # type: ignore[no-untyped-def]
    """Dispatch unreachable (connection refused), as mobile sees it. Returns the live client."""
    return swap_state("dispatch", dispatch_client_down(mobile_app))


@pytest.fixture
def registry_down(mobile_app, swap_state):  # type: ignore[no-untyped-def]
    swap_state("registry", registry_client_down(mobile_app))


class TestDailyLimits:
    async def test_a_resident_past_the_daily_limit_gets_a_429_with_retry_after(
        self, mobile, mobile_app, alice, monkeypatch
    ):
        monkeypatch.setattr(mobile_app.state.settings, "reports_per_resident_day", 2)
        for _ in range(2):
            assert (await post_report(mobile, alice.headers)).status_code == 201
        r = await post_report(mobile, alice.headers)
        body = problem(r, 429, "too-many-requests")
        assert "at most 2 reports a day per resident" in body["detail"]
        assert 0 < int(r.headers["retry-after"]) <= 86400 and body["retry_after"] == int(
            r.headers["retry-after"]
        )

    async def test_one_network_address_past_its_limit_gets_a_429(
        self, mobile, mobile_app, alice, session, world, monkeypatch
    ):
        monkeypatch.setattr(mobile_app.state.settings, "reports_per_ip_day", 2)
        bob = await resident(mobile, session, world, 1, openid="bob")
        assert (await post_report(mobile, alice.headers)).status_code == 201
        assert (await post_report(mobile, bob.headers)).status_code == 201
        r = await post_report(mobile, bob.headers)
        assert "from one network address" in problem(r, 429, "too-many-requests")["detail"]

    async def test_x_forwarded_for_is_ignored_unless_the_proxy_is_trusted(
        self, mobile, mobile_app, alice, monkeypatch
    ):
        monkeypatch.setattr(mobile_app.state.settings, "reports_per_ip_day", 1)
        forged = {"X-Forwarded-For": "203.0.113.7"}
        assert (await post_report(mobile, alice.headers, more_headers=forged)).status_code == 201
        r = await post_report(mobile, alice.headers, more_headers={"X-Forwarded-For": "203.0.113.8"})
        problem(r, 429, "too-many-requests")  # the peer (127.0.0.1) is the client: the header is not believed

    async def test_behind_a_trusted_proxy_each_client_address_counts_apart(
        self, mobile, mobile_app, alice, session, world, monkeypatch
    ):
        monkeypatch.setattr(mobile_app.state.settings, "reports_per_ip_day", 1)
        monkeypatch.setattr(mobile_app.state.settings, "trusted_proxies", ["127.0.0.0/8"])
        bob = await resident(mobile, session, world, 1, openid="bob")
        a = await post_report(mobile, alice.headers, more_headers={"X-Forwarded-For": "203.0.113.7"})
        b = await post_report(mobile, bob.headers, more_headers={"X-Forwarded-For": "1.2.3.4, 203.0.113.8"})
        assert a.status_code == b.status_code == 201
        again = await post_report(
            mobile, bob.headers, more_headers={"X-Forwarded-For": "9.9.9.9, 203.0.113.8"}
        )
        problem(again, 429, "too-many-requests")  # the left part is the client's to forge: not counted on

    async def test_a_refused_report_costs_nothing(self, mobile, mobile_app, alice, session, monkeypatch):
        monkeypatch.setattr(mobile_app.state.settings, "reports_per_resident_day", 1)
        for bad in (
            await post_report(mobile, alice.headers, where=BEIJING),
            await post_report(mobile, alice.headers, photos=[("x.jpg", b"not a photo", "image/jpeg")]),
        ):
            assert bad.status_code in (415, 422)
        assert await counts(session) == (0, 0, 0, 0)
        assert (await post_report(mobile, alice.headers)).status_code == 201


class TestOutages:
    async def test_dispatch_down_is_a_503_naming_it_and_nothing_is_kept(
        self, mobile, mobile_app, alice, session, mobile_settings, dispatch_down, swap_state, monkeypatch
    ):
        monkeypatch.setattr(mobile_app.state.settings, "reports_per_resident_day", 1)
        files_before = {p for p in mobile_settings.media_dir.rglob("*") if p.is_file()}
        r = await post_report(mobile, alice.headers, photos=[("a.jpg", jpeg(), "image/jpeg")])
        body = problem(r, 503, "upstream-unavailable")
        assert "dispatch" in body["detail"] and body["upstream"] == "dispatch"
        assert await counts(session) == (0, 0, 0, 0)  # no mirror, no photo rows, no ticket, no quota used
        assert {
            p for p in mobile_settings.media_dir.rglob("*") if p.is_file()
        } == files_before  # the photo files were removed
        swap_state("dispatch", dispatch_down)  # back up
        assert (await post_report(mobile, alice.headers)).status_code == 201  # the quota of 1 is still there

    async def test_registry_down_with_no_map_yet_accepts_and_dispatch_places_it(
        self, mobile, mobile_app, alice, registry_down
    ):
        assert getattr(mobile_app.state, "district", None) is None
        r = await post_report(mobile, alice.headers, where=BEIJING)
        assert r.status_code == 201, r.text  # dispatch keeps it for the dispatch centre (unresolved place)
        assert r.json()["area_name"] is None

    async def test_registry_down_later_the_cached_outline_still_refuses_another_city(
        self, mobile, mobile_app, alice, swap_state
    ):
        assert (await post_report(mobile, alice.headers)).status_code == 201  # loads the outline
        outline = outline_of(mobile_app)
        assert outline.shape is not None and outline.etag
        swap_state("registry", registry_client_down(mobile_app))
        outline.checked_at = -math.inf  # due for a re-check, which fails
        problem(await post_report(mobile, alice.headers, where=BEIJING), 422, "outside-district")
        assert (await post_report(mobile, alice.headers)).status_code == 201

    async def test_the_outline_is_rechecked_with_its_etag(self, mobile, mobile_app, alice):
        assert (await post_report(mobile, alice.headers)).status_code == 201
        outline = outline_of(mobile_app)
        shape, etag = outline.shape, outline.etag
        outline.checked_at = -math.inf
        assert (await post_report(mobile, alice.headers)).status_code == 201
        assert outline.shape is shape and outline.etag == etag  # 304: the same copy


class TestClientAddress:
    @pytest.mark.parametrize(
        ("peer", "xff", "trusted", "want"),
        [
            ("10.0.0.5", None, [], "10.0.0.5"),
            ("10.0.0.5", "203.0.113.7", [], "10.0.0.5"),
            ("10.0.0.5", "203.0.113.7", ["10.0.0.0/8"], "203.0.113.7"),
            ("10.0.0.5", "1.1.1.1, 203.0.113.7, 10.0.0.9", ["10.0.0.0/8"], "203.0.113.7"),
            ("10.0.0.5", "10.0.0.8, 10.0.0.9", ["10.0.0.0/8"], "10.0.0.8"),
            ("10.0.0.5", "not-an-ip", ["10.0.0.0/8"], "10.0.0.5"),
            ("192.0.2.1", "203.0.113.7", ["10.0.0.0/8"], "192.0.2.1"),
            ("::1", "2001:db8::1", ["::1"], "2001:db8::1"),
        ],
    )
    def test_the_right_most_untrusted_hop_is_the_client(self, peer, xff, trusted, want):
        assert client_ip(peer, xff, trusted) == want
