"""docker-compose.yml and the Dockerfile, checked by reading (no Docker engine runs here)."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_compose_has_bot_and_redis_services() -> None:
    assert set(COMPOSE["services"]) == {"bot", "redis"}


def test_compose_redis_persists_with_aof_on_a_named_volume() -> None:
    redis = COMPOSE["services"]["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    volume, target = redis["volumes"][0].split(":")
    assert target == "/data" and volume in COMPOSE["volumes"]


def test_compose_services_have_health_checks() -> None:
    assert COMPOSE["services"]["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert COMPOSE["services"]["bot"]["healthcheck"]["test"] == ["CMD", "capgap", "health"]


def test_compose_bot_is_configured_by_env_and_waits_for_healthy_redis() -> None:
    bot = COMPOSE["services"]["bot"]
    env = bot["environment"]
    assert env["CAPGAP_REDIS_URL"] == "redis://redis:6379/0"
    assert "CAPGAP_TELEGRAM_TOKEN" in env and "${CAPGAP_TELEGRAM_TOKEN" in env["CAPGAP_TELEGRAM_TOKEN"]
    assert bot["depends_on"]["redis"]["condition"] == "service_healthy"
    volume, target = bot["volumes"][0].split(":")
    assert target == env["CAPGAP_DATA_DIR"] and volume in COMPOSE["volumes"]


def test_dockerfile_installs_the_package_and_a_cjk_font() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert "pip install ." in text
    assert "fonts-noto-cjk" in text
    assert 'CMD ["capgap", "health"]' in text


def test_compose_gives_the_bot_time_to_stop_its_sender_cleanly() -> None:
    from jobs.schedule import SENDER_STOP_S

    grace = COMPOSE["services"]["bot"]["stop_grace_period"]
    assert grace.endswith("s") and float(grace[:-1]) > SENDER_STOP_S
