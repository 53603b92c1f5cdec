"""Loaders for the real series in ../shared/data, as the metrics take them (tests only).

Each loader parses one file layout described in shared/data/PROVENANCE.md into a float64 ``pd.Series``
indexed by a naive, strictly increasing ``DatetimeIndex``. Results are cached per path, so a test module
pays the CSV parse once; callers must not mutate what they get.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path

import pandas as pd


def _clean(series: pd.Series, name: str) -> pd.Series:
    out = series.astype("float64").dropna()
    out.index = pd.DatetimeIndex(out.index).normalize().rename("date")
    out = out.sort_index()
    if out.index.has_duplicates:
        raise ValueError(f"{name}: duplicate dates")
    return out.rename(name)


@cache
def _rut(path: Path) -> pd.Series:
    frame = pd.read_csv(path, parse_dates=["Date"], index_col="Date")
    # The file's last row (2026-02-23, volume 0) is an intraday snapshot, not a close.
    frame = frame.iloc[:-1]
    return _clean(frame["Close"], "RUT")


@cache
def _yfinance_multiheader(path: Path, name: str) -> pd.Series:
    # Three header lines (Price/Ticker/Date); column 2 is Close.
    frame = pd.read_csv(
        path,
        skiprows=3,
        header=None,
        names=["Date", "AdjClose", "Close", "High", "Low", "Open", "Volume"],
        parse_dates=["Date"],
        index_col="Date",
    )
    return _clean(frame["Close"], name)


@cache
def _fred_value(path: Path, name: str) -> pd.Series:
    frame = pd.read_csv(path, parse_dates=["Date"], index_col="Date")
    return _clean(frame["Value"], name)


@cache
def _dfedtar(path: Path) -> pd.Series:
    frame = pd.read_csv(path)
    index = pd.to_datetime(frame["DATE"], format="%m/%d/%Y")
    return _clean(pd.Series(frame["DFEDTAR"].to_numpy(), index=index), "DFEDTAR")


@cache
def _shiller(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, parse_dates=["Date"], index_col="Date")


def rut(data: Path) -> pd.Series:
    """^RUT daily closes 1987-09-10 … 2026-02-20 (alitalbi copy, intraday last row dropped)."""
    return _rut(data / "indices" / "RUT_yahoo_alitalbi.csv")


def ndx(data: Path) -> pd.Series:
    """^NDX daily closes 1985-10-01 … 2026-02-27."""
    return _yfinance_multiheader(data / "indices" / "NDX_yahoo_hjyssg.csv", "NDX")


def spx(data: Path) -> pd.Series:
    """^GSPC daily closes 1927-12-30 … 2026-02-27."""
    return _yfinance_multiheader(data / "indices" / "SPX_yahoo_hjyssg.csv", "SPX")


def dfedtaru(data: Path) -> pd.Series:
    """FRED DFEDTARU (target upper bound, %), 2008-12-16 … 2026-03-27, daily incl. weekends."""
    return _fred_value(data / "fred" / "DFEDTARU_jonsflow.csv", "DFEDTARU")


def dfedtarl(data: Path) -> pd.Series:
    """FRED DFEDTARL (target lower bound, %), 2008-12-16 … 2026-03-27."""
    return _fred_value(data / "fred" / "DFEDTARL_jonsflow.csv", "DFEDTARL")


def dfedtar(data: Path) -> pd.Series:
    """FRED DFEDTAR (single target, %), 1982-09-27 … 2008-12-15."""
    return _dfedtar(data / "fred" / "DFEDTAR_hussamalazzawi.csv")


def shiller_trailing_pe(data: Path) -> pd.Series:
    """S&P 500 trailing P/E = price / trailing 12-month earnings, monthly, from Shiller's data.

    Earnings after 2023-06 are 0.0 placeholders in the datahub file; those months are dropped.
    """
    frame = _shiller(data / "pe" / "shiller_sp500_monthly_datahub.csv")
    real = frame[frame["Earnings"] > 0]
    return _clean(real["SP500"] / real["Earnings"], "PE_SPX_TRAILING")


def fomc_announcements(data: Path) -> list[date]:
    """FOMC decision dates 1982 … 2025: pyfedwatch's list to 2023, HuseynliGulara's for 2021+.

    pyfedwatch's rows after 2023-09 are projections (three of them wrong), so its 2024 rows are
    replaced by the 2021-2025 list.
    """
    old = pd.read_csv(data / "fomc" / "fomc_meetings_1982_2024_pyfedwatch.csv", parse_dates=["FOMCDate"])
    new = pd.read_csv(
        data / "fomc" / "fomc_dates_2021_2025_HuseynliGulara.csv", parse_dates=["decision_date"]
    )
    early = {d.date() for d in old["FOMCDate"] if d.year < 2021}
    late = {d.date() for d in new["decision_date"]}
    return sorted(early | late)
