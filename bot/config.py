"""Settings: one frozen pydantic-settings model read from CAPGAP_* variables and an optional .env file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LANGUAGES: tuple[str, ...] = ("en", "zh-Hant")


class Settings(BaseSettings):
    """Everything an operator can set. Secrets are SecretStr so they never print in a repr or a log."""

    model_config = SettingsConfigDict(env_prefix="CAPGAP_", env_file=".env", extra="ignore", frozen=True)

    telegram_token: SecretStr | None = Field(default=None, description="Bot token from @BotFather")
    webhook_secret: SecretStr | None = Field(
        default=None, description="Secret token Telegram sends in X-Telegram-Bot-Api-Secret-Token"
    )
    data_dir: Path = Field(default=Path("data"), description="History, SQLite store, chart cache")
    redis_url: str | None = Field(default=None, description="redis://host:port/db; unset = embedded SQLite")
    admin_ids: Annotated[tuple[int, ...], NoDecode] = Field(
        default=(), description="Telegram user ids allowed to use /status and other admin commands"
    )
    ops_chat_id: int | None = Field(default=None, description="Chat that receives error notes and degraded-data notices")
    default_lang: str = "en"
    log_level: str = "INFO"
    telegram_base_url: str = Field(
        default="https://api.telegram.org/bot", description="Bot API base URL (tests point it at a local peer)"
    )
    stooq_apikey: SecretStr | None = Field(default=None, description="Stooq download key (Stooq requires one since 2026)")
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    refresh_enabled: bool = Field(default=True, description="Run the scheduled market-data refresh jobs")
    intraday_refresh_minutes: int = Field(
        default=5, ge=0, le=60, description="Minutes between index refreshes while NYSE trades (0 = no intraday quotes)"
    )
    rate_limit_per_second: float = Field(default=30.0, description="Overall Telegram send rate (msg/s)")
    rate_limit_per_chat: float = Field(default=1.0, description="Per-chat send rate (msg/s)")
    rate_limit_per_group_minute: float = Field(default=20.0, description="Per-group send rate (msg/min)")
    send_concurrency: int = Field(
        default=3, ge=1, le=64, description="Outbox messages in flight at once (a crash can duplicate at most this many)"
    )

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(int(part) for part in value.replace(";", ",").split(",") if part.strip())
        if isinstance(value, int):
            return (value,)
        return value

    @field_validator("default_lang")
    @classmethod
    def _known_lang(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"default_lang must be one of {', '.join(LANGUAGES)}")
        return value
