"""Registry settings (`REGISTRY_*`). Startup refuses missing or weak secrets: there are no defaults."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from shared.crypto import decode_key as _key_bytes
from shared.settings import ServiceSettings, database_url_field


class RegistrySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore", populate_by_name=True)

    service_name: str = "registry"
    database_url: str = database_url_field("REGISTRY_")
    data_key: str = Field(
        description="AES-256-GCM key (url-safe base64 of 32 random bytes) sealing identity numbers and "
        "signing keys at rest. `make run` generates one into .data/secrets.env.",
    )
    lookup_key: str = Field(
        description="HMAC-SHA256 key (url-safe base64 of 32 random bytes) for the identity-number blind "
        "index, so a resident can be found by number without the number being stored.",
    )
    access_token_ttl_s: int = Field(
        default=8 * 3600,
        ge=60,
        le=7 * 24 * 3600,
        description="Lifetime of staff access tokens (a working day).",
    )
    service_token_ttl_s: int = Field(default=900, ge=60, le=24 * 3600)
    login_max_failures: int = Field(default=5, ge=1, description="Failed logins before an account locks.")
    login_lock_s: int = Field(default=900, ge=1, description="How long a locked account stays locked.")
    import_max_bytes: int = Field(
        default=256 * 1024 * 1024, ge=1024, description="Largest spreadsheet accepted by the resident import."
    )
    import_max_reported_errors: int = Field(default=10_000, ge=1)
    import_statement_timeout_ms: int = Field(
        default=30 * 60 * 1000,
        ge=1000,
        description="Statement timeout inside a resident import, which moves a million rows in one statement.",
    )
    geo_refresh_s: float = Field(
        default=5.0, gt=0, description="How often a replica checks for polygon edits made elsewhere."
    )

    @field_validator("data_key", "lookup_key")
    @classmethod
    def _check_key(cls, v: str, info) -> str:  # type: ignore[no-untyped-def]
        _key_bytes(v, f"REGISTRY_{info.field_name.upper()}")
        return v

    @property
    def data_key_bytes(self) -> bytes:
        return _key_bytes(self.data_key, "REGISTRY_DATA_KEY")

    @property
    def lookup_key_bytes(self) -> bytes:
        return _key_bytes(self.lookup_key, "REGISTRY_LOOKUP_KEY")


@lru_cache
def get_settings() -> RegistrySettings:
    return RegistrySettings()  # type: ignore[call-arg]
