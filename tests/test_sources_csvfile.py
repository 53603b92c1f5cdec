"""The user's CSV files: every layout in shared/data, the intraday last row, and broken files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from bot.errors import SourceError
from bot.sources.csvfile import is_bar_series, parse_series_csv, read_series_csv


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- real files ------------------------------------------------------------------------------------


def test_read_rut_drops_intraday_last_row(shared_data: Path) -> None:
    fetched = read_series_csv(shared_data / "indices" / "RUT_yahoo_alitalbi.csv", "RUT")
    frame = fetched.frame
    assert len(frame) == 9685  # 9,686 rows in the file, the 2026-02-23 snapshot left out
    assert fetched.meta["dropped_partial"] == date(2026, 2, 23)
    assert fetched.partial_last is False
    assert frame.index[-1] == pd.Timestamp("2026-02-20")
    assert round(frame.loc["2026-02-20", "close"], 2) == 2663.78
    assert round(frame.loc["2025-09-18", "close"], 2) == 2467.70
    assert round(frame.loc["2021-11-08", "close"], 2) == 2442.74
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert frame.index.name == "date" and frame.index.dtype == "datetime64[ns]"
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert not frame.isna().any().any()
    assert fetched.source == "csv" and fetched.series == "RUT"
    assert fetched.meta["layout"] == "ohlc"


def test_read_ndx_three_header_lines(shared_data: Path) -> None:
    fetched = read_series_csv(shared_data / "indices" / "NDX_yahoo_hjyssg.csv", "NDX")
    frame = fetched.frame
    assert fetched.meta["layout"] == "yfinance-multiindex"
    assert len(frame) == 10181
    assert frame.index[0] == pd.Timestamp("1985-10-01")
    assert round(frame.loc["2025-12-31", "close"], 2) == 25249.85
    assert round(frame.loc["2024-12-31", "close"], 2) == 21012.17
    assert list(frame.columns) == ["open", "high", "low", "close", "adjclose", "volume"]
    assert "dropped_partial" not in fetched.meta


def test_read_spx_keeps_pre_1962_flat_bars(shared_data: Path) -> None:
    frame = read_series_csv(shared_data / "indices" / "SPX_yahoo_hjyssg.csv", "SPX").frame
    assert len(frame) == 24656
    assert round(frame.loc["2024-12-31", "close"], 2) == 5881.63
    first = frame.loc["1927-12-30"]
    assert first["open"] == first["high"] == first["low"] == first["close"] == 17.65999984741211
    assert first["volume"] == 0


def test_read_classic_yahoo_layout_with_adj_close(shared_data: Path) -> None:
    fetched = read_series_csv(shared_data / "indices" / "RUT_yahoo_hjyssg.csv", "RUT")
    assert fetched.meta["layout"] == "yahoo"
    assert len(fetched.frame) == 9297
    row = fetched.frame.loc["2024-08-02"]
    assert (row["open"], row["close"], row["adjclose"]) == (2127.25, 2109.31005859375, 2109.31005859375)


def test_read_etf_with_volume_keeps_last_row(shared_data: Path) -> None:
    fetched = read_series_csv(shared_data / "indices" / "IWM_yahoo_alitalbi.csv", "IWM")
    assert len(fetched.frame) == 6473
    assert fetched.frame.index[-1] == pd.Timestamp("2026-02-23")


def test_read_fred_reexport_date_value(shared_data: Path) -> None:
    fetched = read_series_csv(shared_data / "fred" / "DFEDTARU_jonsflow.csv", "DFEDTARU")
    frame = fetched.frame
    assert list(frame.columns) == ["value"]
    assert len(frame) == 6311
    assert frame.loc["2025-09-18", "value"] == 4.25
    assert frame.loc["2025-09-17", "value"] == 4.50
    assert fetched.meta["layout"] == "date-value"


def test_read_fred_old_fredgraph_dot_missing(shared_data: Path) -> None:
    fetched = read_series_csv(shared_data / "fred" / "DGS10_hussamalazzawi.csv", "DGS10")
    assert fetched.meta["layout"] == "fredgraph-old"
    assert len(fetched.frame) == 16196 - 691
    assert pd.Timestamp("1962-02-12") not in fetched.frame.index


def test_read_fred_new_fredgraph_empty_missing(shared_data: Path) -> None:
    fetched = read_series_csv(shared_data / "fred" / "DGS10_fredgraph_1999_2025_chatterjee.csv", "DGS10")
    assert fetched.meta["layout"] == "fredgraph"
    assert len(fetched.frame) == 6974 - 286


def test_read_fred_excel_month_day_year(shared_data: Path) -> None:
    frame = read_series_csv(shared_data / "fred" / "DFEDTAR_hussamalazzawi.csv", "DFEDTAR").frame
    assert len(frame) == 9577
    assert frame.index[0] == pd.Timestamp("1982-09-27")
    assert frame.loc["1982-09-27", "value"] == 10.25
    assert frame.index[-1] == pd.Timestamp("2008-12-15")
    assert frame.loc["2008-12-15", "value"] == 1.0


def test_read_stooq_csv_as_bars(shared_data: Path) -> None:
    frame = read_series_csv(shared_data / "fixtures" / "stooq" / "stooq_SPX_d_1789_2025.csv", "SPX").frame
    assert len(frame) == 39420
    assert frame.loc["2021-11-08", "close"] == 4701.70


def test_read_investing_newest_first_reversed(shared_data: Path) -> None:
    fetched = read_series_csv(shared_data / "zq" / "ZQ0M_investing_hussamalazzawi.csv", "ZQ0M")
    frame = fetched.frame
    assert fetched.meta["reversed"] is True and fetched.meta["layout"] == "investing"
    assert frame.index.is_monotonic_increasing
    assert frame.index[-1] == pd.Timestamp("2024-01-25")
    assert frame.loc["2024-01-25", "value"] == 94.67  # the Price column


def test_read_generic_forward_pe(tmp_path: Path) -> None:
    path = write(tmp_path, "date,value\n2024-12-31,21.5\n2025-03-31,20.25\n2025-06-30,\n2025-09-30,22.75\n")
    fetched = read_series_csv(path, "PE_SPX_FWD")
    assert list(fetched.frame["value"]) == [21.5, 20.25, 22.75]
    assert list(fetched.frame.index) == [pd.Timestamp(d) for d in ("2024-12-31", "2025-03-31", "2025-09-30")]


def test_parse_bar_series_from_value_file_gives_closes() -> None:
    frame = parse_series_csv("observation_date,SP500\n2024-12-30,5906.94\n2024-12-31,5881.63\n", "SPX").frame
    assert list(frame.columns) == ["close"]
    assert list(frame["close"]) == [5906.94, 5881.63]


def test_parse_vendor_number_formats_and_datetime_suffix() -> None:
    body = (
        "Date,Price,Open,High,Low,Vol.\n"
        "2024-01-24 00:00:00-05:00,94.67,94.67,94.6725,94.67,6.69K\n"
        '2024-01-25 00:00:00-05:00,94.67,94.67,94.6725,94.67,"13,280"\n'
    )
    frame = parse_series_csv(body, "IWM").frame
    assert list(frame.index) == [pd.Timestamp("2024-01-24"), pd.Timestamp("2024-01-25")]
    assert list(frame["volume"]) == [6690.0, 13280.0]
    assert list(frame["close"]) == [94.67, 94.67]


def test_is_bar_series_for_the_eight_bar_series() -> None:
    assert all(is_bar_series(s) for s in ("RUT", "NDX", "SPX", "^GSPC", "SP600", "IWM", "IJR", "SPY", "QQQ"))
    assert not any(is_bar_series(s) for s in ("DFEDTARU", "PE_SPY", "ZQ0M", "SP500"))


# --- broken files ----------------------------------------------------------------------------------


def test_read_unsorted_dates_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "Date,Close\n2025-01-02,10\n2025-01-06,11\n2025-01-03,12\n2025-01-07,13\n")
    with pytest.raises(SourceError) as err:
        read_series_csv(path, "RUT")
    assert err.value.source == "csv"
    assert err.value.fault == f"{path} line 4: date 2025-01-03 comes after 2025-01-06 (dates out of order)"


def test_read_duplicated_date_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "Date,Value\n2026-01-01,3.4\n2027-01-01,3.1\n2027-01-01,3.1\n2028-01-01,3.1\n")
    with pytest.raises(SourceError) as err:
        read_series_csv(path, "FEDTARMD")
    assert err.value.fault == f"{path} line 4: duplicated date 2027-01-01"


def test_read_nan_close_between_prices_raises(tmp_path: Path) -> None:
    path = write(
        tmp_path, "Date,Open,High,Low,Close,Volume\n2025-01-02,1,2,0.5,1.5,10\n2025-01-03,1,2,0.5,NaN,10\n"
    )
    with pytest.raises(SourceError) as err:
        read_series_csv(path, "SPY")
    assert err.value.fault == f"{path} line 3 (2025-01-03): bar has prices but no close"


def test_read_null_bar_dropped(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        "2020-01-02,1,2,0.5,1.5,1.5,10\n"
        "2020-01-03,null,null,null,null,null,null\n"
        "2020-01-06,1,2,0.5,1.6,1.6,12\n",
    )
    frame = read_series_csv(path, "QQQ").frame
    assert list(frame.index) == [pd.Timestamp("2020-01-02"), pd.Timestamp("2020-01-06")]


def test_read_bad_number_raises(tmp_path: Path) -> None:
    path = write(tmp_path, "date,value\n2025-01-02,21.5\n2025-01-03,n/a x\n")
    with pytest.raises(SourceError) as err:
        read_series_csv(path, "PE_SP600_FWD")
    assert err.value.fault == f"{path} line 3 (2025-01-03): value 'n/a x' is not a number"


def test_read_bad_date_raises(tmp_path: Path) -> None:
    path = write(tmp_path, "Date,Close\n2025-01-02,10\n2025-13-40,11\n")
    with pytest.raises(SourceError) as err:
        read_series_csv(path, "RUT")
    assert err.value.fault == f"{path} line 3: unparseable date '2025-13-40'"


def test_read_html_saved_as_csv_raises(tmp_path: Path) -> None:
    path = write(tmp_path, "<!DOCTYPE html><html><head><title>Sign in</title></head></html>")
    with pytest.raises(SourceError) as err:
        read_series_csv(path, "RUT")
    assert err.value.fault == f"{path} sent an HTML page instead of CSV (title: 'Sign in')"


def test_read_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as err:
        read_series_csv(tmp_path / "nope.csv", "RUT")
    assert err.value.fault == f"cannot read {tmp_path / 'nope.csv'}: No such file or directory"


def test_read_several_columns_without_series_column_raises(tmp_path: Path) -> None:
    path = write(tmp_path, "date,a,b\n2025-01-02,1,2\n")
    with pytest.raises(SourceError) as err:
        read_series_csv(path, "PE_SPX_FWD")
    assert err.value.fault == f"{path} has several columns and none is PE_SPX_FWD or value (columns: a, b)"


def test_read_shiller_monthly_file_as_pe_is_price_over_trailing_earnings(shared_data: Path) -> None:
    fetched = read_series_csv(shared_data / "pe" / "shiller_sp500_monthly_datahub.csv", "PE_SPX_SHILLER")
    values = fetched.frame["value"]
    # PROVENANCE.md: SP500/Earnings 2021-12 23.63, 2022-12 22.65, 2023-06 23.99 (not PE10, the CAPE 38.30).
    assert round(values[pd.Timestamp("2021-12-01")], 2) == 23.63
    assert round(values[pd.Timestamp("2022-12-01")], 2) == 22.65
    # The 0.0 earnings after 2023-06 are placeholders: those months are not P/E observations.
    assert values.index[-1] == pd.Timestamp("2023-06-01") and round(values.iloc[-1], 2) == 23.99
    assert fetched.meta["layout"] == "shiller"
