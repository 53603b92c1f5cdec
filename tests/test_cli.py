"""The `capgap` command line as a person uses it: real subprocesses, real files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def capgap(*args: str, data_dir: Path, env: dict[str, str] | None = None,
           cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CAPGAP_")}
    environ.update({"CAPGAP_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO)})
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=environ, cwd=cwd or data_dir, timeout=120
    )


def test_cli_run_without_token_explains_botfather_and_ask_then_fails(tmp_path: Path) -> None:
    result = capgap("run", data_dir=tmp_path)
    assert result.returncode == 2
    assert "@BotFather" in result.stderr and "/newbot" in result.stderr
    assert "CAPGAP_TELEGRAM_TOKEN" in result.stderr and "capgap ask" in result.stderr


def test_cli_run_webhook_without_secret_refuses(tmp_path: Path) -> None:
    result = capgap("run", "--webhook", "https://example.org/hook", data_dir=tmp_path,
                    env={"CAPGAP_TELEGRAM_TOKEN": "123456:" + "A" * 35})
    assert result.returncode == 2 and "CAPGAP_WEBHOOK_SECRET" in result.stderr


@pytest.mark.parametrize("command", ["run", "ask", "refresh", "import", "backtest", "health"])
def test_cli_each_subcommand_has_help(tmp_path: Path, command: str) -> None:
    result = capgap(command, "--help", data_dir=tmp_path)
    assert result.returncode == 0 and "usage: capgap " + command in result.stdout


def test_cli_import_unknown_series_lists_the_known_ones(tmp_path: Path) -> None:
    csv = tmp_path / "x.csv"
    csv.write_text("date,value\n2024-01-02,1.0\n")
    result = capgap("import", str(csv), "--series", "BANANA", data_dir=tmp_path)
    assert result.returncode == 2 and "unknown series" in result.stderr and "RUT" in result.stderr


def test_cli_import_missing_file_fails_clearly(tmp_path: Path) -> None:
    result = capgap("import", str(tmp_path / "nope.csv"), "--series", "RUT", data_dir=tmp_path)
    assert result.returncode == 2 and "no such file" in result.stderr


def test_cli_ask_unknown_command_lists_known_commands(tmp_path: Path) -> None:
    result = capgap("ask", "/banana", data_dir=tmp_path)
    assert result.returncode == 2 and "/r2k" in result.stderr


def test_cli_ask_bad_as_of_date_is_a_usage_error(tmp_path: Path) -> None:
    result = capgap("ask", "--as-of", "2026-13-45", "/r2k", data_dir=tmp_path)
    assert result.returncode == 2 and "not a date" in result.stderr


def test_cli_ask_with_empty_store_says_no_data_not_a_traceback(tmp_path: Path) -> None:
    result = capgap("ask", "/r2k", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "No data stored yet" in result.stdout and "Traceback" not in result.stderr


def test_cli_health_without_heartbeat_is_unhealthy(tmp_path: Path) -> None:
    result = capgap("health", data_dir=tmp_path)
    assert result.returncode == 1 and "no heartbeat" in result.stderr


def test_cli_r2k_on_real_data_matches_the_2026_02_20_close(tmp_path: Path, shared_data: Path) -> None:
    imported = capgap("import", str(shared_data / "indices" / "RUT_yahoo_alitalbi.csv"), "--series", "RUT", data_dir=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert "intraday snapshot" in imported.stdout  # the 2026-02-23 row (volume 0) is not a close
    result = capgap("ask", "--as-of", "2026-02-20", "/r2k", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "2,663.78" in out and "2026-02-20" in out
    assert "2,718.77" in out and "2026-01-22" in out and "−2.02%" in out
    assert "Source:" in out
    zh = capgap("ask", "--as-of", "2026-02-20", "--lang", "zh-Hant", "/r2k", data_dir=tmp_path)
    assert zh.returncode == 0 and "2,663.78" in zh.stdout and "2,718.77" in zh.stdout and "收盤" in zh.stdout


def test_cli_r2k_on_2025_09_18_is_the_highest_since_november_2021(tmp_path: Path, shared_data: Path) -> None:
    capgap("import", str(shared_data / "indices" / "RUT_yahoo_alitalbi.csv"), "--series", "RUT", data_dir=tmp_path)
    result = capgap("ask", "--as-of", "2025-09-18", "/r2k", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2,467.70" in result.stdout
    assert "November 2021" in result.stdout and "2021-11-08" in result.stdout and "2,442.74" in result.stdout


def test_cli_backtest_r2k_high_prints_the_first_firing_after_the_2021_record(tmp_path: Path, shared_data: Path) -> None:
    capgap("import", str(shared_data / "indices" / "RUT_yahoo_alitalbi.csv"), "--series", "RUT", data_dir=tmp_path)
    result = capgap("backtest", "r2k_high", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2025-09-18" in result.stdout and "would have fired 4 times" in result.stdout
    bad = capgap("backtest", "r2k_high", "banana", data_dir=tmp_path)
    assert bad.returncode == 0 and bad.stdout.startswith("Usage: /backtest r2k_high")


def test_cli_ask_future_as_of_is_refused_in_one_line(tmp_path: Path) -> None:
    result = capgap("ask", "--as-of", "2099-01-02", "/r2k", data_dir=tmp_path)
    assert result.returncode == 2 and "in the future" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", [("ask", "/r2k"), ("backtest", "r2k_high")])
def test_cli_as_of_before_the_nyse_calendar_is_one_line_not_a_traceback(tmp_path: Path, command: tuple[str, str]) -> None:
    result = capgap(command[0], "--as-of", "1980-01-02", command[1], data_dir=tmp_path)
    assert result.returncode == 2 and "NYSE calendar" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_cli_ask_into_a_pipe_closed_early_ends_quietly(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CAPGAP_")}
    environ.update({"CAPGAP_DATA_DIR": str(tmp_path), "PYTHONPATH": str(REPO)})
    reader = subprocess.Popen([sys.executable, "-m", "bot", "ask", "/help"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=environ, cwd=tmp_path)
    assert reader.stdout is not None and reader.stderr is not None
    reader.stdout.readline()
    reader.stdout.close()  # `| head -1`
    stderr = reader.stderr.read().decode()
    reader.wait(timeout=60)
    assert "BrokenPipeError" not in stderr and "Traceback" not in stderr


def test_cli_refresh_unknown_series_names_the_fetchable_ones(tmp_path: Path) -> None:
    result = capgap("refresh", "BANANA", data_dir=tmp_path)
    assert result.returncode == 2 and "no data source for BANANA" in result.stderr and "RUT" in result.stderr


def test_cli_refresh_report_failed_fetch_exits_non_zero_and_says_what_was_kept(capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import date

    from bot.__main__ import _print_refresh
    from bot.market import RefreshReport, SeriesStatus

    status = {
        "RUT": SeriesStatus("RUT", "yahoo", date(2026, 2, 20), None, stale=True, last_error="yahoo: HTTP 503"),
        "SPX": SeriesStatus("SPX", "yahoo", date(2026, 2, 23), None, stale=False),
        "DFEDTAR": SeriesStatus("DFEDTAR", "csv:DFEDTAR.csv", date(2008, 12, 15), None, stale=True),
    }
    report = RefreshReport(fetched={"SPX": "yahoo"}, rows={"SPX": 1}, failed={"RUT": "yahoo: HTTP 503; stooq: no key"})
    snap = type("Snap", (), {"status": status})()
    assert _print_refresh(snap, report) == 1
    out, err = capsys.readouterr()
    assert "RUT          FAILED  kept what was stored (last 2026-02-20); yahoo: HTTP 503; stooq: no key" in out
    assert "SPX          ok      last 2026-02-23 via yahoo (new or revised rows: 1)" in out
    assert "DFEDTAR      import" in out and "None" not in out
    assert "1 series could not be fetched: RUT" in err
    # Import-only series never count as failed: with nothing failed the exit status is 0.
    assert _print_refresh(snap, RefreshReport(fetched={"SPX": "yahoo"})) == 0


def test_cli_fedodds_then_and_now_table_and_bars_from_an_imported_zq_file(tmp_path: Path, shared_data: Path) -> None:
    """`capgap import` of a slice of the real ZQ daily file (2022-01-25 … 2022-03-01), then `capgap ask
    --as-of` in zh-Hant: the March 2022 meeting against the previous session, a week and a month earlier."""
    source = shared_data / "zq" / "ZQ_contracts_daily_1990_2025_pyfedwatch.csv"
    lines = source.read_text().splitlines()
    sliced = tmp_path / "zq_2022.csv"
    sliced.write_text("\n".join([lines[0], *(x for x in lines[1:] if "2022-01-25" <= x.split(",")[3] <= "2022-03-01")]) + "\n")
    for path, series in ((sliced, "ZQ"), (shared_data / "fred" / "DFEDTARL_jonsflow.csv", "DFEDTARL")):
        imported = capgap("import", str(path), "--series", series, data_dir=tmp_path)
        assert imported.returncode == 0, imported.stderr
    chart = tmp_path / "bars.png"
    zh = capgap("ask", "--as-of", "2022-03-01", "--lang", "zh-Hant", "--chart-out", str(chart), "/fedodds 2022-03 chart",
                data_dir=tmp_path)
    assert zh.returncode == 0, zh.stderr
    assert "2022-03-01 目前 · 2022-02-28 前一交易日 · 2022-02-22 1 週前 · 2022-02-01 1 個月前" in zh.stdout
    assert "0.25–0.50   87.2%   93.0%   59.0%   87.0%" in zh.stdout
    assert chart.read_bytes()[:4] == b"\x89PNG"
