"""`capgap import` guards stored history, `capgap export` gives it back: real subprocesses, real files."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from bot.history import HistoryStore
from bot.sources.csvfile import read_series_csv
from tests.test_cli import capgap

RUT_CSV = "indices/RUT_yahoo_alitalbi.csv"
IWM_CSV = "indices/IWM_yahoo_alitalbi.csv"


def test_cli_import_etf_as_index_refused_nothing_written(tmp_path: Path, shared_data: Path) -> None:
    assert capgap("import", str(shared_data / RUT_CSV), "--series", "RUT", data_dir=tmp_path).returncode == 0
    before = HistoryStore(tmp_path)
    rut, revision = before.load("RUT"), before.revision()
    result = capgap("import", str(shared_data / IWM_CSV), "--series", "RUT", data_dir=tmp_path)
    assert result.returncode == 1
    assert "refused, nothing written" in result.stderr and "6,472 dates" in result.stderr
    assert "--replace" in result.stderr
    after = HistoryStore(tmp_path)
    assert after.revision() == revision
    pd.testing.assert_frame_equal(after.load("RUT"), rut)


def test_cli_import_from_another_vendor_within_tolerance_merges(tmp_path: Path, shared_data: Path) -> None:
    assert capgap("import", str(shared_data / RUT_CSV), "--series", "RUT", data_dir=tmp_path).returncode == 0
    result = capgap("import", str(shared_data / "indices/RUT_yahoo_hjyssg.csv"), "--series", "RUT", data_dir=tmp_path)
    assert result.returncode == 0 and "Imported RUT" in result.stdout
    assert HistoryStore(tmp_path).meta("RUT").rows == 9685  # type: ignore[union-attr]


def test_cli_import_replace_saves_the_previous_history_and_the_printed_restore_works(
    tmp_path: Path, shared_data: Path
) -> None:
    assert capgap("import", str(shared_data / RUT_CSV), "--series", "RUT", data_dir=tmp_path).returncode == 0
    original = HistoryStore(tmp_path).load("RUT")
    result = capgap("import", str(shared_data / IWM_CSV), "--series", "RUT", "--replace", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    replaced = HistoryStore(tmp_path).load("RUT")
    assert replaced is not None and len(replaced) == 6473 and replaced.index[0] == pd.Timestamp("2000-05-26")
    restore = re.search(r"to restore it: capgap (import (\S+) --series RUT --replace)", result.stdout)
    assert restore is not None and Path(restore.group(2)).parent == tmp_path / "backups"
    again = capgap(*restore.group(1).split(), data_dir=tmp_path)
    assert again.returncode == 0, again.stderr
    pd.testing.assert_frame_equal(HistoryStore(tmp_path).load("RUT"), original)


def test_cli_export_then_import_into_an_empty_store_gives_equal_frames(tmp_path: Path, shared_data: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    for name, rel in (("RUT", RUT_CSV), ("DGS10", "fred/DGS10_jonsflow.csv")):
        assert capgap("import", str(shared_data / rel), "--series", name, data_dir=first).returncode == 0
        out = tmp_path / f"{name}.csv"
        exported = capgap("export", name, str(out), data_dir=first)
        assert exported.returncode == 0, exported.stderr
        assert capgap("import", str(out), "--series", name, data_dir=second).returncode == 0
        pd.testing.assert_frame_equal(HistoryStore(second).load(name), HistoryStore(first).load(name))
    stdout = capgap("export", "dgs10", data_dir=first)
    assert stdout.returncode == 0 and stdout.stdout.startswith("Date,Value\n")
    frame = read_series_csv(tmp_path / "DGS10.csv", "DGS10").frame
    assert len(stdout.stdout.splitlines()) == len(frame) + 1


def test_cli_export_of_a_series_not_stored_fails_naming_what_is(tmp_path: Path) -> None:
    result = capgap("export", "RUT", data_dir=tmp_path)
    assert result.returncode == 1 and "no stored history of 'RUT'" in result.stderr and "Stored: none" in result.stderr
