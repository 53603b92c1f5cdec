"""Data: load of all stored history, and an incremental refresh vs a full rebuild, side by side.

Both refreshes go through the real path (Market.refresh -> YahooSource over httpx -> parse_chart ->
HistoryStore) with the wire answered in-process by a transport that serves Yahoo v8 chart bodies built
from the real ^RUT history, in the recorded fixture's format, for exactly the range requested.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from bench.common import median_time, require_shared_data, row
from bot.clock import FixedClock
from bot.history import HistoryStore, load_all
from bot.market import Market
from bot.sources.csvfile import read_series_csv
from bot.sources.yahoo import YahooSource

# Real files for 8 daily series (SP600/IJR have no public history: their places are taken by the
# FRED rates the bot also keeps).
FILES = {
    "RUT": "indices/RUT_yahoo_alitalbi.csv",
    "NDX": "indices/NDX_yahoo_hjyssg.csv",
    "SPX": "indices/SPX_yahoo_hjyssg.csv",
    "IWM": "indices/IWM_yahoo_alitalbi.csv",
    "SPY": "indices/SPY_yahoo_alitalbi.csv",
    "QQQ": "indices/QQQ_yahoo_alitalbi.csv",
    "DFEDTARU": "fred/DFEDTARU_jonsflow.csv",
    "DGS10": "fred/DGS10_jonsflow.csv",
}
TEMPLATE = "fixtures/yahoo/nyf2_chart-QQQ-2020-01-01-to-2020-01-03.json"


def chart_transport(rut: pd.DataFrame, template: dict[str, Any]) -> tuple[httpx.MockTransport, list[int]]:
    """Serve ^RUT chart bodies for the requested period; record how many bars each answer carried."""
    opens = rut.index.tz_localize("America/New_York") + pd.Timedelta(hours=9, minutes=30)
    stamps = (opens.tz_convert("UTC").asi8 // 1_000_000_000).astype("int64")
    served: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        p1 = int(request.url.params.get("period1", 0))
        p2 = int(request.url.params.get("period2", 2**31))
        mask = (stamps >= p1) & (stamps < p2)
        part = rut[mask]
        served.append(len(part))
        result = json.loads(json.dumps(template["chart"]["result"][0]))
        result["meta"]["symbol"] = "^RUT"
        result["timestamp"] = stamps[mask].tolist()
        result["indicators"] = {
            "quote": [{c: part[c].tolist() for c in ("open", "high", "low", "close", "volume")}],
            "adjclose": [{"adjclose": part["close"].tolist()}],
        }
        return httpx.Response(200, json={"chart": {"result": [result], "error": None}})

    return httpx.MockTransport(handler), served


def run() -> list[dict[str, Any]]:
    data = require_shared_data()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        history = HistoryStore(Path(tmp) / "history")
        frames = {}
        for name, rel in FILES.items():
            frames[name] = read_series_csv(data / rel, name).frame
            history.write(name, frames[name], source="csv", fetched_at=None)
        total_rows = sum(len(f) for f in frames.values())
        load_s = median_time(lambda: load_all(history), repeat=15)
        rows.append(row(f"load all history ({len(FILES)} series, {total_rows:,} rows) ms", load_s * 1000, "milliseconds (< 100)", load_s < 0.1))

        rut = frames["RUT"]
        template = json.loads((data / TEMPLATE).read_text())["response"]["bodyJson"]
        transport, served = chart_transport(rut, template)
        last = rut.index[-1]
        now = datetime(last.year, last.month, last.day, 23, 0, tzinfo=UTC)

        async def refresh(store: HistoryStore) -> None:
            async with httpx.AsyncClient(transport=transport) as client:
                market = Market(store, FixedClock(now), {"yahoo": YahooSource(client)})
                await market.refresh(["RUT"])

        def full() -> None:
            store = HistoryStore(Path(tempfile.mkdtemp(dir=tmp)))
            asyncio.run(refresh(store))

        incremental_dir = Path(tmp) / "incremental"

        def incremental() -> None:
            store = HistoryStore(incremental_dir)
            store.write("RUT", rut.iloc[:-1], source="csv", fetched_at=None)  # one session behind
            started = time.perf_counter()
            asyncio.run(refresh(store))
            timings.append(time.perf_counter() - started)

        timings: list[float] = []
        full_s = median_time(full, repeat=5)
        full_bars = served[-1]
        for _ in range(6):
            incremental()
        incr_s = sorted(timings[1:])[len(timings[1:]) // 2]
        incr_bars = served[-1]
        ratio = incr_s / full_s
        rows.append(row(f"full rebuild of RUT ({full_bars:,} bars fetched) ms", full_s * 1000, "reference"))
        rows.append(row(f"incremental refresh of RUT ({incr_bars} bars fetched) ms", incr_s * 1000, "reference"))
        rows.append(row("incremental / full rebuild", ratio, "<= 0.05", ratio <= 0.05))
    return rows


if __name__ == "__main__":
    from bench.common import print_table

    print_table(run())
