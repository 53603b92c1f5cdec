"""The one-time conversion of a data dir's .cgh files (tests/fixtures/cgh, written by capgap before
issue 14) into the store: nothing lost, verified before the old files move aside, never deleted."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from bot.history import STRIPS, HistoryStore
from bot.sources.csvfile import read_series_csv
from bot.store.factory import make_history
from bot.store.history_cgh import MIGRATED_DIR, migrate_cgh
from bot.store.history_redis import RedisHistory
from tests.conftest import REPO
from tests.test_cli import capgap

FIXTURE = REPO / "tests" / "fixtures" / "cgh" / "history"
OLD_FILES = ["DFEDTARU.cgh", "RUT.cgh", "RUT.tail.cgh", "ZQ_STRIPS.cgh"]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "history")
    return tmp_path


def _check_converted(history: HistoryStore, shared_data: Path | None) -> None:
    assert history.names() == ["DFEDTARU", "RUT"]
    rut, meta = history.series("RUT")  # type: ignore[misc]
    # base written from the CSV, the last 25 rows upserted by a refresh (in the tail): its source wins
    assert (meta.rows, meta.first, meta.last) == (284, date(2025, 1, 2), date(2026, 2, 20))
    assert (meta.source, meta.fetched_at) == ("yahoo", datetime(2026, 2, 21, 1, 0, tzinfo=UTC))
    assert rut["close"].iloc[-1] == pytest.approx(2663.780029296875)
    if shared_data is not None:
        csv = read_series_csv(shared_data / "indices/RUT_yahoo_alitalbi.csv", "RUT").frame
        pd.testing.assert_frame_equal(rut, csv.loc["2025-01-01":"2026-02-20"], check_freq=False)
    fed = history.meta("DFEDTARU")
    assert fed is not None and (fed.rows, fed.last, fed.source) == (200, date(2026, 3, 27), "fred")
    strips = history.strips()
    assert list(strips) == [date(2026, 9, 17)] and len(strips[date(2026, 9, 17)].settles) == 60
    assert strips[date(2026, 9, 17)].source == "cme"


def test_migrate_cgh_fixture_converted_verified_and_moved_aside(data_dir: Path, shared_data: Path) -> None:
    history = HistoryStore(data_dir)
    report = migrate_cgh(data_dir / "history", history)
    assert report is not None and report.failed == {}
    assert report.series == {"DFEDTARU": 200, "RUT": 284} and report.strips == 1
    _check_converted(HistoryStore(data_dir), shared_data)
    assert sorted(p.name for p in (data_dir / "history" / MIGRATED_DIR).iterdir()) == OLD_FILES
    assert not list((data_dir / "history").glob("*.cgh"))
    assert migrate_cgh(data_dir / "history", history) is None  # once


def test_migrate_cgh_into_redis(data_dir: Path, redis_url: str, redis_prefix: str) -> None:
    history = HistoryStore(RedisHistory(redis_url, prefix=redis_prefix))
    report = migrate_cgh(data_dir / "history", history)
    assert report is not None and report.failed == {}
    _check_converted(HistoryStore(RedisHistory(redis_url, prefix=redis_prefix)), None)


def test_migrate_cgh_keeps_what_the_store_already_holds_and_adds_missing_dates(data_dir: Path) -> None:
    history = HistoryStore(data_dir)
    days = pd.DatetimeIndex(["2026-02-20", "2026-02-23"], name="date").as_unit("ns")
    newer = pd.DataFrame({"open": 1.0, "high": 1.0, "low": 1.0, "close": [2700.0, 2710.0], "volume": 1.0}, index=days)
    history.write("RUT", newer, source="yahoo", fetched_at=None)
    report = migrate_cgh(data_dir / "history", history)
    assert report is not None and report.failed == {}
    rut = history.load("RUT")
    assert rut is not None and len(rut) == 285  # 283 dates from the file + the store's two
    assert rut["close"].loc["2026-02-20"] == 2700.0 and rut["close"].iloc[-1] == 2710.0


def test_migrate_cgh_damaged_file_stays_and_the_rest_converts(data_dir: Path) -> None:
    (data_dir / "history" / "DFEDTARU.cgh").write_bytes(b"\x89CGHIST\n truncated")
    history = HistoryStore(data_dir)
    report = migrate_cgh(data_dir / "history", history)
    assert report is not None and list(report.failed) == ["DFEDTARU.cgh"]
    assert history.names() == ["RUT"] and history.meta(STRIPS) is not None
    assert (data_dir / "history" / "DFEDTARU.cgh").exists()  # kept for the operator, not deleted


def test_make_history_converts_on_open(data_dir: Path) -> None:
    history = make_history(data_dir=data_dir, redis_url=None)
    assert history.names() == ["DFEDTARU", "RUT"]
    assert (data_dir / "capgap.sqlite3").exists() and (data_dir / "history" / MIGRATED_DIR / "RUT.cgh").exists()


def test_cli_ask_on_a_cgh_data_dir_converts_it_and_answers(data_dir: Path) -> None:
    result = capgap("ask", "--as-of", "2026-02-20", "/r2k", data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    assert "2,663.78" in result.stdout
    assert (data_dir / "history" / MIGRATED_DIR / "ZQ_STRIPS.cgh").exists()
