"""Where the real history of each series lies in ../shared/data (see its PROVENANCE.md): the one map the
tests and the benchmarks import (SP600 and IJR have no public history there)."""

from __future__ import annotations

SHARED_FILES = {
    "RUT": "indices/RUT_yahoo_alitalbi.csv",
    "NDX": "indices/NDX_yahoo_hjyssg.csv",
    "SPX": "indices/SPX_yahoo_hjyssg.csv",
    "IWM": "indices/IWM_yahoo_alitalbi.csv",
    "SPY": "indices/SPY_yahoo_alitalbi.csv",
    "QQQ": "indices/QQQ_yahoo_alitalbi.csv",
    "DFEDTARU": "fred/DFEDTARU_jonsflow.csv",
    "DFEDTARL": "fred/DFEDTARL_jonsflow.csv",
    "DFEDTAR": "fred/DFEDTAR_hussamalazzawi.csv",
    "EFFR": "fred/EFFR_jonsflow.csv",
    "DGS10": "fred/DGS10_jonsflow.csv",
    "PE_SPX_SHILLER": "pe/shiller_sp500_monthly_datahub.csv",
}
