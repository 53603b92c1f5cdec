"""The ZQ daily-contracts CSV: parsed into strips on the real file, refused in any other shape, stored in
one write, and imported through `capgap import --series ZQ`."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.errors import SourceError
from bot.history import HistoryStore
from bot.sources.base import Strip
from bot.sources.zq_daily import ZqDailyFile, is_zq_daily_file, parse_zq_daily
from tests.test_cli import capgap

ZQ_FILE = "zq/ZQ_contracts_daily_1990_2025_pyfedwatch.csv"
HEADER = "symbol,expiry_year,expiry_month,date,open,high,low,close,volume,open_interest\n"


@pytest.fixture(scope="module")
def parsed(shared_data: Path) -> ZqDailyFile:
    path = shared_data / ZQ_FILE
    return parse_zq_daily(path.read_bytes(), origin=path.name)


def test_parse_zq_daily_real_file_one_strip_per_trade_date(parsed: ZqDailyFile) -> None:
    # PROVENANCE 3a: 199,555 rows, ZQF90 .. ZQZ25, trade dates 1989-08-25 .. 2023-09-15.
    assert parsed.rows == 199_555 and parsed.contracts == 432
    assert parsed.first == date(1989, 8, 25) and parsed.last == date(2023, 9, 15)
    days = [s.trade_date for s in parsed.strips]
    assert days == sorted(set(days)) and len(days) == 8_572
    last = parsed.strips[-1]
    # PROVENANCE 3a: "Strip on 2023-09-15: ZQU23 94.6675, ZQV23 94.665, ZQX23 94.595, ZQZ23 94.575,
    # ZQF24 94.56".
    assert list(last.settles.items())[:5] == [
        (date(2023, 9, 1), 94.6675),
        (date(2023, 10, 1), 94.665),
        (date(2023, 11, 1), 94.595),
        (date(2023, 12, 1), 94.575),
        (date(2024, 1, 1), 94.56),
    ]
    assert last.source == "csv:ZQ_contracts_daily_1990_2025_pyfedwatch.csv"
    assert all(list(s.settles) == sorted(s.settles) for s in parsed.strips[::97])


def test_parse_zq_daily_row_after_last_trading_day_stays_out(parsed: ZqDailyFile) -> None:
    by_day = {s.trade_date: s for s in parsed.strips}
    # ZQN23 has a row dated 2023-08-01, after July's last trading day: it is no live contract's settle.
    assert date(2023, 7, 1) in by_day[date(2023, 7, 31)].settles
    assert date(2023, 7, 1) not in by_day[date(2023, 8, 1)].settles
    assert min(by_day[date(2023, 8, 1)].settles) == date(2023, 8, 1)
    assert parsed.dropped_after_expiry == 15
    # No strip anywhere holds a month that ended before its trade date.
    assert all(min(s.settles) >= date(s.trade_date.year, s.trade_date.month, 1) for s in parsed.strips)


@pytest.mark.parametrize(
    ("body", "fault"),
    [
        (
            "Date,Price,Open,High,Low,Vol.,Change %\n01/25/2024,94.67,94.67,94.67,94.67,13.28K,0.00%\n",
            "header must be",
        ),
        (HEADER, "no rows"),
        (HEADER + "ZQG90,1990,1,1989-08-25,91.52,91.52,91.52,91.52,0,0\n", "line 2: a symbol that disagrees"),
        (
            HEADER + "ZQF90,1990,1,25/08/1989,91.52,91.52,91.52,91.52,0,0\n",
            "line 2: a date that is not YYYY-MM-DD",
        ),
        (HEADER + "ZQF90,1990,1,1989-08-25,91.52,91.52,91.52,,0,0\n", "line 2: no close price"),
        (
            HEADER + "ZQF90,1990,1,1989-08-25,91.52,91.52,91.52,-1,0,0\n",
            "line 2: a close that is not a ZQ price",
        ),
        (HEADER + "ZQF90,1990,13,1989-08-25,91.52,91.52,91.52,91.52,0,0\n", "an expiry that is not"),
        (
            HEADER + "ZQF90,1990,1,1989-08-25,1,1,1,91.52,0,0\nZQF90,1990,1,1989-08-25,1,1,1,91.50,0,0\n",
            "listed twice",
        ),
        (HEADER + "ZQF90,1990,1,1990-02-01,1,1,1,91.52,0,0\n", "every row is dated after"),
    ],
)
def test_parse_zq_daily_bad_shape_is_refused_whole(body: str, fault: str) -> None:
    with pytest.raises(SourceError) as err:
        parse_zq_daily(body.encode(), origin="bad.csv")
    assert fault in err.value.fault and err.value.source == "csv:bad.csv"


def test_parse_zq_daily_small_file_groups_rows_by_trade_date() -> None:
    body = HEADER + (
        "ZQF90,1990,1,1989-08-25,1,1,1,91.52,0,0\n"
        "ZQF90,1990,1,1989-08-28,1,1,1,91.50,0,0\n"
        "ZQG90,1990,2,1989-08-28,1,1,1,91.60,0,0\n"
    )
    got = parse_zq_daily(body.encode(), origin="small.csv")
    assert [(s.trade_date, s.settles) for s in got.strips] == [
        (date(1989, 8, 25), {date(1990, 1, 1): 91.52}),
        (date(1989, 8, 28), {date(1990, 1, 1): 91.50, date(1990, 2, 1): 91.60}),
    ]


def test_is_zq_daily_file_tells_the_two_shapes_and_names_them_for_anything_else(shared_data: Path) -> None:
    assert is_zq_daily_file((shared_data / ZQ_FILE).read_bytes()[:5000], origin="zq.csv") is True
    cme = (shared_data / "fixtures/cme/settlements_ZQ_20260917.json").read_bytes()
    assert is_zq_daily_file(cme, origin="cme.json") is False
    with pytest.raises(SourceError) as err:
        is_zq_daily_file(
            (shared_data / "zq/ZQ0M_investing_hussamalazzawi.csv").read_bytes(), origin="ZQ0M.csv"
        )
    assert "CME settlements JSON" in err.value.fault and "daily-contracts CSV" in err.value.fault


def test_put_strips_stores_like_put_strip_one_by_one(tmp_path: Path) -> None:
    a = Strip(date(2022, 3, 1), {date(2022, 3, 1): 99.79, date(2022, 4, 1): 99.68}, "csv:a.csv")
    b = Strip(date(2022, 3, 2), {date(2022, 3, 1): 99.80}, "csv:a.csv")
    a2 = Strip(date(2022, 3, 1), {date(2022, 4, 1): 99.70}, "csv:b.csv")
    bulk, single = HistoryStore(tmp_path / "bulk"), HistoryStore(tmp_path / "single")
    bulk.put_strips([a, b])
    bulk.put_strips([a2])
    for strip in (a, b, a2):
        single.put_strip(strip)
    assert {d: s.settles for d, s in bulk.strips().items()} == {
        d: s.settles for d, s in single.strips().items()
    }
    # A trade date stored again is replaced whole, not merged.
    assert bulk.strips()[date(2022, 3, 1)].settles == {date(2022, 4, 1): 99.70}
    assert HistoryStore(tmp_path / "bulk").strips()[date(2022, 3, 2)].settles == {date(2022, 3, 1): 99.80}


def test_cli_import_zq_daily_file_stores_every_strip_and_prints_a_summary(
    tmp_path: Path, shared_data: Path
) -> None:
    result = capgap("import", str(shared_data / ZQ_FILE), "--series", "ZQ", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Imported 8,572 ZQ strips" in result.stdout and "1989-08-25 .. 2023-09-15" in result.stdout
    assert (
        "432 contract months" in result.stdout
        and "15 rows dated after their contract's month" in result.stdout
    )
    strips = HistoryStore(tmp_path).strips()  # the data dir: where `capgap import` stored them
    assert len(strips) == 8_572 and strips[date(2022, 3, 1)].settles[date(2022, 4, 1)] == 99.68


def test_cli_import_zq_other_csv_names_the_accepted_shapes(tmp_path: Path, shared_data: Path) -> None:
    result = capgap(
        "import",
        str(shared_data / "zq/ZQ0M_investing_hussamalazzawi.csv"),
        "--series",
        "ZQ",
        data_dir=tmp_path,
    )
    assert result.returncode == 1
    assert "invalid JSON" not in result.stderr
    assert "CME settlements JSON" in result.stderr and "daily-contracts CSV" in result.stderr
