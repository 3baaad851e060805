"""Base settings every service extends (pydantic-settings, read from the environment)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def database_url_field(prefix: str):
    """A `database_url` field read from `<PREFIX>DATABASE_URL`, falling back to `DATABASE_URL`."""
    return Field(
        default="",
        validation_alias=AliasChoices(f"{prefix}DATABASE_URL", "DATABASE_URL", "database_url"),
        description="SQLAlchemy URL, postgresql+asyncpg://user:pass@host/db (a unix socket via ?host=/dir).",
    )


class ServiceSettings(BaseSettings):
    """Settings shared by every service. Each service subclasses this with its own `env_prefix`.

    `DATABASE_URL` may be given once for all services, or per service (`REGISTRY_DATABASE_URL`, ...).
    """

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    service_name: str = "gridgov"
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL, postgresql+asyncpg://user:pass@host/db (a unix socket via ?host=/dir).",
    )
    db_pool_size: int = Field(default=20, ge=1, le=200, description="Connections kept open per process.")
    db_max_overflow: int = Field(
        default=0,
        ge=0,
        le=200,
        description="Extra connections for bursts. They are closed when returned, so under sustained load "
        "they churn (a PostgreSQL backend started and ended per request: measured at half a core); size "
        "the pool instead.",
    )
    db_pool_pre_ping: bool = Field(
        default=False,
        description="Test each pooled connection before use. Costs a round trip per request; without it a "
        "dropped connection fails one request and the pool is refreshed.",
    )
    db_statement_timeout_ms: int = Field(default=15_000, ge=100, description="Per-statement timeout.")

    log_level: str = "INFO"
    log_json: bool = True
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="Largest request body accepted.")
    cors_origins: list[str] = Field(
        default_factory=list, description="Allowed CORS origins; none by default."
    )

    # Token verification (every service). Registry is the issuer and publishes the JWKS.
    jwt_issuer: str = "gridgov-registry"
    jwks_url: str = Field(default="http://127.0.0.1:8001/.well-known/jwks.json")
    # Public URL of the registry's token endpoint, for Swagger UI's "Authorize" dialog.
    token_url: str = "/api/v1/auth/token"

    @field_validator("database_url")
    @classmethod
    def _asyncpg_url(cls, v: str) -> str:
        # Accept the libpq spelling that tools print (postgresql://...) and use asyncpg with it.
        if v.startswith("postgresql://") or v.startswith("postgres://"):
            v = "postgresql+asyncpg://" + v.split("://", 1)[1]
        return v
