"""Packaging: the lock files, pyproject's metadata, the wheel's contents and `capgap --version`.

The lock files (requirements*.txt, pip-compile --generate-hashes, `make lock`) are what `make run`,
`make test`, .ci/run and the Dockerfile install; these tests fail when pyproject.toml and the locks drift
apart, and when the running environment is not the locked one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
LOCKS = {"runtime": "requirements.txt", "test": "requirements-test.txt", "bench": "requirements-bench.txt"}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def read_lock(name: str) -> dict[str, str]:
    """Canonical package name -> pinned version; fails on any line that is not a pin with hashes."""
    pins: dict[str, str] = {}
    entries = re.split(r"\n(?=\S)", (REPO / name).read_text())
    for entry in entries:
        if not entry.strip() or entry.lstrip().startswith("#"):
            continue
        match = PIN.match(entry)
        assert match, f"{name}: not an exact pin: {entry.splitlines()[0]!r}"
        assert "--hash=sha256:" in entry, f"{name}: {match.group(1)} has no hash"
        pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def declared(extra: str | None) -> list[Requirement]:
    project = PYPROJECT["project"]
    items = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    return [Requirement(item) for item in items]


def test_lock_files_pin_every_package_with_a_hash() -> None:
    for name in LOCKS.values():
        assert len(read_lock(name)) > 10


@pytest.mark.parametrize(
    ("lock", "sets"), [("runtime", [None]), ("test", [None, "test"]), ("bench", [None, "test", "bench"])]
)
def test_lock_file_satisfies_every_declared_dependency(lock: str, sets: list[str | None]) -> None:
    pins = read_lock(LOCKS[lock])
    for extra in sets:
        for requirement in declared(extra):
            name = canonicalize_name(requirement.name)
            assert name in pins, f"{requirement} is not in {LOCKS[lock]}: run `make lock`"
            assert requirement.specifier.contains(pins[name], prereleases=True), (
                f"{LOCKS[lock]} pins {name}=={pins[name]}, pyproject wants {requirement}: run `make lock`"
            )


def test_lock_files_share_every_common_version() -> None:
    runtime, test, bench = (read_lock(name) for name in LOCKS.values())
    assert {k: test[k] for k in runtime} == runtime  # compiled with -c requirements.txt
    assert {k: bench[k] for k in test} == test  # compiled with -c requirements-test.txt
    assert "pytest" not in runtime and "pyyaml" not in runtime  # test-only packages stay out of the image


def test_lock_files_pin_the_build_backend_that_pyproject_pins() -> None:
    (backend,) = PYPROJECT["build-system"]["requires"]
    requirement = Requirement(backend)
    assert str(requirement.specifier).startswith("=="), "the build backend is pinned exactly"
    for name in LOCKS.values():
        assert read_lock(name)[canonicalize_name(requirement.name)] == str(requirement.specifier)[2:]


def test_installed_environment_has_every_locked_test_version() -> None:
    wrong = {}
    for name, version in read_lock(LOCKS["test"]).items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "missing"
        if installed != version:
            wrong[name] = f"{installed}, locked {version}"
    assert wrong == {}, "this environment is not the locked test set (`make test` installs it)"


def test_pyproject_license_is_an_spdx_expression() -> None:
    assert PYPROJECT["project"]["license"] == "LicenseRef-Proprietary"


def test_pyproject_declares_no_unused_dependency() -> None:
    names = {canonicalize_name(r.name) for extra in (None, "test", "bench") for r in declared(extra)}
    assert "time-machine" not in names  # nothing imports it
    assert "pyyaml" not in {canonicalize_name(r.name) for r in declared(None)}  # only tests read YAML


def test_cli_version_prints_the_installed_version() -> None:
    result = subprocess.run([sys.executable, "-m", "bot", "--version"], capture_output=True, text=True,
                            cwd=REPO, timeout=120)
    assert result.returncode == 0
    assert result.stdout.strip() == f"capgap {PYPROJECT['project']['version']}"
    assert metadata.version("capgap") == PYPROJECT["project"]["version"]


@pytest.mark.slow
def test_wheel_builds_offline_without_warnings_and_ships_font_catalogs_and_licence(tmp_path: Path) -> None:
    # The files the Dockerfile copies, built the way it builds them (locked setuptools, no index).
    source = tmp_path / "src"
    for name in ("pyproject.toml", "README.md"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, source / name)
    for folder in ("bot", "handlers", "jobs"):
        shutil.copytree(REPO / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    # No index (offline) and no machine pip config; PYTHONDONTWRITEBYTECODE only adds setuptools' own
    # "byte-compiling is disabled" notice, which says nothing about the package.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1"})
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--verbose", "-w",
         str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    warnings = [line for line in (result.stdout + result.stderr).splitlines() if "warning" in line.lower()]
    assert warnings == [], "\n".join(warnings)
    (wheel,) = (tmp_path / "dist").glob("capgap-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        files = set(archive.namelist())
        meta = archive.read(next(f for f in files if f.endswith(".dist-info/METADATA"))).decode()
    assert {"bot/fonts/capgap-NotoSansCJKtc-Regular-subset.otf", "bot/fonts/OFL.txt",
            "bot/locales/zh_Hant/LC_MESSAGES/capgap.po", "bot/data/fomc_decisions.csv"} <= files
    assert "License-Expression: LicenseRef-Proprietary" in meta
    assert "Requires-Dist: pyyaml" not in meta.lower()


def test_makefile_install_stamp_changes_when_a_lock_file_changes(tmp_path: Path) -> None:
    # `make -n` prints what make would run, including the stamp it would touch; nothing is installed.
    if shutil.which("make") is None:
        pytest.fail("make is not installed (the README's two commands need it)")
    for name in ("Makefile", "pyproject.toml", *LOCKS.values()):
        shutil.copy(REPO / name, tmp_path / name)

    def stamps() -> set[str]:
        result = subprocess.run(["make", "-n", "run", "test", "bench", "VENV=v"], capture_output=True,
                                text=True, cwd=tmp_path, timeout=60)
        return set(re.findall(r"touch (v/\.\w+-\d+)", result.stdout))

    before = stamps()
    assert {s.split("-")[0] for s in before} == {"v/.run", "v/.test", "v/.bench"}
    for name in LOCKS.values():
        with (tmp_path / name).open("a") as lock:
            lock.write("\n# edited\n")
        after = stamps()
        assert after.isdisjoint(before), f"editing {name} leaves the install stamps as they were"
        before = after
