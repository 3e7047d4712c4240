"""Every setting of steve-lite, read once from ``STEVE_*`` environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_ERROR_TYPE_BASE = "https://docs.steve.openloyalty.io/errors"
BACKEND_URL_SCHEMES = {
    "database_url": ("postgresql://", "postgres://"),
    "queue_url": ("redis://", "rediss://", "unix://"),
}
RATE_LIMIT_BUCKETS = ("read", "session", "submit", "webhook_test", "review")


class Settings(BaseSettings):
    """The service configuration. Build one with ``Settings()`` and pass it down."""

    model_config = SettingsConfigDict(env_prefix="STEVE_", extra="ignore", frozen=True)

    # HTTP server
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    data_dir: Path = Path(".steve-data")
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    error_type_base: str = DEFAULT_ERROR_TYPE_BASE
    max_body_bytes: int = 64 * 1024

    # Rate limits: requests per key, per bucket, per window
    rate_limit_window_seconds: int = Field(60, ge=1)
    rate_limit_read: int = Field(300, ge=1)
    rate_limit_session: int = Field(60, ge=1)
    rate_limit_submit: int = Field(20, ge=1)
    rate_limit_webhook_test: int = Field(10, ge=1)
    rate_limit_review: int = Field(60, ge=1)

    # Sessions
    session_ttl_seconds: int = Field(1800, ge=1)
    upload_url_ttl_seconds: int = Field(900, ge=1)
    download_url_ttl_seconds: int = Field(3600, ge=1)

    # Object storage; no endpoint means the embedded SeaweedFS server
    s3_endpoint: str | None = None
    s3_public_endpoint: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_bucket: str = "steve-lite"
    s3_region: str = "auto"
    s3_secure: bool = True
    embedded_s3_port: int = Field(0, ge=0, le=55535)

    # Backends: unset means SQLite files in the data directory (see docs/deployment.md)
    database_url: str | None = None
    queue_url: str | None = None
    queue_name: str = Field("steve-lite", pattern=r"^[A-Za-z0-9_.-]{1,100}$")

    # Worker
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    worker_poll_seconds: float = Field(0.1, gt=0)
    processing_lease_seconds: int = Field(300, ge=1)
    processing_max_attempts: int = Field(3, ge=1)
    sweep_interval_seconds: int = Field(60, ge=1)
    run_worker: bool = True
    ocr_warmup: bool = True
    worker_heartbeat_seconds: float = Field(5.0, gt=0)
    worker_stale_seconds: float = Field(20.0, gt=0)
    ready_requires_worker: bool = True

    # What one OCR call may be given (see processing/ocr_limits.py)
    ocr_min_side_px: int = Field(32, ge=1)
    ocr_max_aspect_ratio: float = Field(12.0, ge=1)
    ocr_tile_aspect_ratio: float = Field(3.0, ge=1)
    ocr_max_input_pixels: int = Field(2_000_000, ge=100_000)
    ocr_page_timeout_seconds: float = Field(120.0, gt=0)
    ocr_engine_memory_mb: int = Field(2048, ge=256)

    # Review console (see docs/console.md)
    public_url: str | None = None
    console_link_ttl_seconds: int = Field(1800, ge=60)
    console_idle_timeout_seconds: int = Field(1800, ge=1)
    console_absolute_timeout_seconds: int = Field(12 * 3600, ge=1)
    console_sign_in_window_seconds: int = Field(900, ge=1)
    console_sign_in_limit_account: int = Field(5, ge=1)
    console_sign_in_limit_address: int = Field(30, ge=1)

    # Webhooks
    webhook_allow_private: bool = False
    webhook_timeout_seconds: float = Field(10.0, gt=0)
    webhook_retry_delays: str = "30,300"
    webhook_test_timeout_seconds: float = Field(5.0, gt=0)

    @field_validator("webhook_retry_delays")
    @classmethod
    def _check_retry_delays(cls, value: str) -> str:
        try:
            delays = [float(part) for part in value.split(",") if part.strip()]
        except ValueError:
            raise ValueError("must be comma-separated seconds, e.g. 30,300") from None
        if any(delay < 0 for delay in delays):
            raise ValueError("delays must not be negative")
        return value

    @property
    def database_path(self) -> Path:
        """The application database file."""
        return self.data_dir / "steve.db"

    @property
    def queue_path(self) -> Path:
        """The Huey queue's own SQLite file."""
        return self.data_dir / "queue.db"

    @field_validator("database_url", "queue_url")
    @classmethod
    def _check_backend_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        schemes = BACKEND_URL_SCHEMES[info.field_name or ""]
        if value and not value.startswith(schemes):
            names = ", ".join(schemes[:-1]) + " or " + schemes[-1]
            raise ValueError(f"must start with {names} (or be unset)")
        return value or None

    @property
    def console_url(self) -> str:
        """Where reviewers reach the console: ``STEVE_PUBLIC_URL`` or the listen address."""
        base = self.public_url or f"http://{self.host}:{self.port}"
        return base.rstrip("/") + "/console"

    @property
    def retry_delays(self) -> list[float]:
        """Seconds to wait before each webhook retry."""
        return [float(part) for part in self.webhook_retry_delays.split(",") if part.strip()]

    @property
    def embedded_s3(self) -> bool:
        """True when steve-lite runs its own S3 server."""
        return not self.s3_endpoint

    def rate_limit(self, bucket: str) -> int:
        """Requests allowed per window in ``bucket``."""
        return int(getattr(self, f"rate_limit_{bucket}"))
