"""Dispatch settings (`DISPATCH_*`)."""

from __future__ import annotations

import json
from datetime import date
from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from services.dispatch.worktime import WorkCalendar, WorkingHours
from shared.crypto import decode_key
from shared.settings import ServiceSettings, database_url_field


class DispatchSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DISPATCH_", extra="ignore", populate_by_name=True)

    service_name: str = "dispatch"
    database_url: str = database_url_field("DISPATCH_")
    registry_url: str = Field(
        default="http://127.0.0.1:8001", description="Base URL of the registry service."
    )
    client_id: str = Field(default="svc-dispatch", description="This service's account at the registry.")
    client_secret: str = Field(
        description="Its client-credentials secret (`make run` generates one into .data/secrets.env)."
    )

    working_hours: str = Field(
        default="08:30-12:00,14:00-17:30", description="Working periods of a working day, CST."
    )
    calendar_overrides: str = Field(
        default="{}",
        description='JSON {"YYYY-MM-DD": true|false}: a make-up workday (true) or a holiday (false) the '
        "calendar library does not know yet, e.g. next year's State Council announcement.",
    )
    response_rule_hours: float = Field(
        default=4.0, gt=0, description="Working hours a unit has to sign for (签收) a dispatched ticket."
    )
    warn_share: float = Field(
        default=0.8,
        gt=0,
        lt=1,
        description="Share of the handling limit used up when the early warning fires.",
    )
    red_share: float = Field(
        default=1.5,
        gt=1,
        description="Share of the handling limit after which an overdue ticket gets a red card and is "
        "escalated one level.",
    )
    job_interval_s: float = Field(default=30.0, gt=0, description="How often the supervision job runs.")
    job_batch: int = Field(default=500, ge=1, le=10_000)
    place_retry_s: float = Field(default=60.0, gt=0, description="How often pending places are retried.")
    place_max_attempts: int = Field(default=20, ge=1)
    locate_cache_ttl_s: float = Field(
        default=300.0,
        ge=0,
        description="How long a registry locate answer is reused for the same point (to ~1 m) or address. "
        "Grid boundaries change rarely; 0 turns the cache off.",
    )
    locate_cache_size: int = Field(default=50_000, ge=0)
    map_refresh_s: float = Field(
        default=5.0, gt=0, description="How often the copy of the registry's map is checked for edits."
    )
    router_refresh_s: float = Field(
        default=10.0, gt=0, description="How often a replica checks for standards edits made elsewhere."
    )
    duplicate_distance_m: float = Field(default=150.0, ge=0, description="Duplicates: how near (metres).")
    duplicate_window_h: float = Field(default=72.0, ge=0, description="Duplicates: how recent (hours).")
    duplicate_min_similarity: float = Field(
        default=0.45, ge=0, le=1, description="Duplicates: how alike the texts must be (0–1)."
    )
    # weekly review (一周一点评) thresholds for the red and black lists (红黑榜)
    red_list_on_time: float = Field(default=0.95, ge=0, le=1)
    red_list_satisfaction: float = Field(default=0.90, ge=0, le=1)
    black_list_on_time: float = Field(default=0.80, ge=0, le=1)
    black_list_satisfaction: float = Field(default=0.70, ge=0, le=1)
    list_min_received: int = Field(default=5, ge=0, description="Units with fewer tickets are not ranked.")

    secrets_key: str = Field(
        description="AES-256-GCM key (url-safe base64 of 32 random bytes) sealing the 12345 app secrets at "
        "rest. `make run` generates one into .data/secrets.env.",
    )
    # 12345 hotline: inbound work orders
    hotline_skew_s: int = Field(
        default=300, ge=30, le=3600, description="Allowed difference between X-Timestamp and our clock."
    )
    hotline_key_cache_s: float = Field(
        default=10.0,
        ge=0,
        description="How long a replica reuses the app keys it loaded; a revoked key stops working within this.",
    )
    hotline_idem_owner: str = Field(
        default="12345",
        description="Whose order numbers these are: one platform's order_no is unique across its keys.",
    )
    # 12345 hotline: status callbacks out
    hotline_callback_url: str | None = Field(
        default=None,
        description="The platform's callback URL. Unset: callbacks are still written and kept, and are "
        "delivered once it is set.",
    )
    hotline_callback_app_key: str = Field(
        default="", description="The key the platform issued us for signing callbacks (X-App-Key)."
    )
    hotline_callback_secret: str = Field(default="", description="Its secret.")
    hotline_callback_timeout_s: float = Field(default=10.0, gt=0, description="Per delivery attempt.")
    hotline_callback_concurrency: int = Field(
        default=16,
        ge=1,
        le=256,
        description="Deliveries in flight at once (different orders), one connection each.",
    )
    hotline_callback_batch: int = Field(
        default=500, ge=1, le=10_000, description="Callbacks claimed per pass."
    )
    hotline_callback_interval_s: float = Field(
        default=1.0, gt=0, description="How often the drain job looks for due callbacks when idle."
    )
    hotline_callback_max_attempts: int = Field(
        default=12, ge=1, le=100, description="Attempts before a callback goes to the dead-letter list."
    )
    hotline_callback_backoff_s: float = Field(
        default=2.0, gt=0, description="First retry delay; it doubles with each attempt (with jitter)."
    )
    hotline_callback_backoff_max_s: float = Field(default=600.0, gt=0, description="Longest retry delay.")

    # status pushes to the mobile service (the residents' mini-program): the reporter.update outbox
    mobile_url: str | None = Field(
        default=None,
        description="Base URL of the mobile service. Unset: residents' status updates are kept in the outbox "
        "and delivered once it is set.",
    )
    mobile_push_interval_s: float = Field(
        default=1.0, gt=0, description="How often the outbox is checked for updates to push when idle."
    )
    mobile_push_batch: int = Field(default=200, ge=1, le=1000, description="Updates sent per request.")
    mobile_push_timeout_s: float = Field(default=10.0, gt=0, description="Per push request.")
    mobile_push_backoff_s: float = Field(
        default=2.0, gt=0, description="First retry delay after a failed push; doubles per attempt (jitter)."
    )
    mobile_push_backoff_max_s: float = Field(default=300.0, gt=0, description="Longest retry delay.")

    @field_validator("secrets_key")
    @classmethod
    def _secrets_key(cls, v: str) -> str:
        decode_key(v, "DISPATCH_SECRETS_KEY")
        return v

    @property
    def secrets_key_bytes(self) -> bytes:
        return decode_key(self.secrets_key, "DISPATCH_SECRETS_KEY")

    @field_validator("client_secret")
    @classmethod
    def _real_secret(cls, v: str) -> str:
        if len(v) < 16 or v.lower() in {"changeme", "change-me", "secret", "password"}:
            raise ValueError("DISPATCH_CLIENT_SECRET must be the service account's real secret (16+ chars)")
        return v

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, v: str) -> str:
        WorkingHours.parse(v)
        return v

    @field_validator("calendar_overrides")
    @classmethod
    def _overrides(cls, v: str) -> str:
        data = json.loads(v or "{}")
        if not isinstance(data, dict) or not all(isinstance(x, bool) for x in data.values()):
            raise ValueError('calendar_overrides must be a JSON object {"YYYY-MM-DD": true|false}')
        for k in data:
            date.fromisoformat(k)
        return v

    def calendar(self) -> WorkCalendar:
        overrides = {date.fromisoformat(k): b for k, b in json.loads(self.calendar_overrides or "{}").items()}
        return WorkCalendar(hours=WorkingHours.parse(self.working_hours), overrides=overrides)


@lru_cache
def get_settings() -> DispatchSettings:
    return DispatchSettings()  # type: ignore[call-arg]
