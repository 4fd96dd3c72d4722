"""Settings of the gateway, read from the environment once, in the composition root."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode
from semantik_contracts.search import MAX_TIMEOUT_MS, MIN_TIMEOUT_MS
from semantik_runtime.settings import ServiceSettings

#: HS256 keys shorter than its 32-byte hash weaken it (RFC 7518 §3.2).
MIN_SECRET_BYTES = 32
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class GatewaySettings(ServiceSettings):
    host: str = Field("127.0.0.1", validation_alias="SEMANTIK_HOST")
    port: int = Field(8080, validation_alias="SEMANTIK_PORT", ge=0, le=65535)
    jwt_secret: SecretStr | None = Field(
        None,
        validation_alias="JWT_SECRET",
        description="HS256 key of at least 32 bytes; generated once into "
        "<data dir>/secrets/jwt_secret if unset",
    )
    metrics_token: SecretStr | None = Field(
        None,
        validation_alias="SEMANTIK_METRICS_TOKEN",
        description="Bearer token /metrics asks for when the gateway binds beyond loopback "
        "(without one there, /metrics answers 403); on loopback /metrics is open",
    )
    registration: Literal["closed", "invite", "open"] = Field(
        "closed",
        validation_alias="SEMANTIK_REGISTRATION",
        description="Who may register after the first account (the admin): nobody "
        "(closed), holders of an admin's invite code (invite), or anyone (open)",
    )
    access_token_minutes: int = Field(30, validation_alias="ACCESS_TOKEN_MINUTES", gt=0)
    refresh_token_days: int = Field(14, validation_alias="REFRESH_TOKEN_DAYS", gt=0)
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="CORS_ORIGINS",
        description="Comma-separated origins (or a JSON list) allowed by CORS; never `*`",
    )
    request_timeout_seconds: float = Field(
        10.0, validation_alias="GATEWAY_REQUEST_TIMEOUT_SECONDS", gt=0
    )
    search_timeout_seconds: float = Field(30.0, validation_alias="SEARCH_TIMEOUT_SECONDS", gt=0)
    search_collection_timeout_ms: int = Field(
        5000,
        validation_alias="SEARCH_COLLECTION_TIMEOUT_MS",
        ge=MIN_TIMEOUT_MS,
        le=MAX_TIMEOUT_MS,
        description="How long each collection of a search may take unless the request "
        "says (timeout_ms); a slower one is left out with a warning",
    )
    upload_max_bytes: int = Field(
        50 * 1024 * 1024,
        validation_alias="SEMANTIK_UPLOAD_MAX_BYTES",
        gt=0,
        description="Largest file accepted by POST .../sources/upload",
    )
    vector_count_timeout_seconds: float = Field(
        2.0, validation_alias="VECTOR_COUNT_TIMEOUT_SECONDS", gt=0
    )
    ws_send_queue_size: int = Field(
        512,
        validation_alias="WS_SEND_QUEUE_SIZE",
        ge=1,
        description="Messages buffered per WebSocket client before it is closed with 1013",
    )
    ws_heartbeat_seconds: float = Field(20.0, validation_alias="WS_HEARTBEAT_SECONDS", gt=0)
    ws_max_subscriptions: int = Field(64, validation_alias="WS_MAX_SUBSCRIPTIONS", ge=1)
    ws_subscribe_wait_seconds: float = Field(
        30.0,
        validation_alias="WS_SUBSCRIBE_WAIT_SECONDS",
        gt=0,
        description="How long a subscription waits for a collections service that does not "
        "answer (restarting) before the client is told it is unavailable",
    )
    auth_rate_per_minute: int = Field(
        30,
        validation_alias="AUTH_RATE_LIMIT_PER_MINUTE",
        ge=0,
        description="Sign-in requests (register, login, refresh, logout) per client address "
        "a minute; 0 = unlimited",
    )
    auth_rate_burst: int = Field(10, validation_alias="AUTH_RATE_LIMIT_BURST", ge=1)
    search_rate_per_minute: int = Field(
        600,
        validation_alias="SEARCH_RATE_LIMIT_PER_MINUTE",
        ge=0,
        description="Searches per user a minute; 0 = unlimited",
    )
    search_rate_burst: int = Field(60, validation_alias="SEARCH_RATE_LIMIT_BURST", ge=1)
    webhook_allow_private: bool = Field(
        False,
        validation_alias="SEMANTIK_WEBHOOK_ALLOW_PRIVATE",
        description="Let webhooks reach private, loopback and link-local addresses "
        "(a receiver on this machine or network); off, such URLs are refused",
    )
    webhook_disable_after_hours: float = Field(
        24.0,
        validation_alias="SEMANTIK_WEBHOOK_DISABLE_AFTER_HOURS",
        gt=0,
        description="A webhook whose deliveries have failed this long is deactivated",
    )
    webhook_timeout_seconds: float = Field(
        10.0,
        validation_alias="SEMANTIK_WEBHOOK_TIMEOUT_SECONDS",
        gt=0,
        description="How long one webhook delivery (connect, send, answer) may take",
    )
    webhook_max_per_user: int = Field(
        20,
        validation_alias="SEMANTIK_WEBHOOK_MAX_PER_USER",
        ge=1,
        description="Webhooks one user may have; one more is refused with 409",
    )
    webhook_retry_base_seconds: float = Field(
        1.0,
        validation_alias="SEMANTIK_WEBHOOK_RETRY_BASE_SECONDS",
        gt=0,
        description="A failed delivery is retried after a random delay of up to this "
        "times 2^(attempts-1) (exponential backoff, full jitter)",
    )
    webhook_retry_max_seconds: float = Field(
        300.0,
        validation_alias="SEMANTIK_WEBHOOK_RETRY_MAX_SECONDS",
        gt=0,
        description="The longest delay before a delivery is retried",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard(cls, origins: list[str]) -> list[str]:
        # CORS allows credentials (the refresh cookie): `*` would let any site use them.
        if any("*" in origin for origin in origins):
            raise ValueError(
                "CORS_ORIGINS may not contain '*' (credentials are allowed): "
                "name each origin, e.g. https://semantik.example.org"
            )
        return origins

    @field_validator("jwt_secret", "metrics_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # Compose passes `${JWT_SECRET:-}`: an empty variable means "not configured".
        return None if value == "" else value

    @field_validator("jwt_secret")
    @classmethod
    def _long_enough(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None and len(secret.get_secret_value().encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes (HS256 keys shorter "
                "than its hash can be guessed offline); unset it to have one generated, "
                "or use e.g. `openssl rand -hex 32`"
            )
        return secret

    @property
    def on_loopback(self) -> bool:
        """Bound to this machine only (nobody else reaches it)."""
        return self.host in LOOPBACK
