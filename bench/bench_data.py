"""Data: load of all stored history, and an incremental refresh vs a full rebuild, side by side.

Both refreshes go through the real path (Market.refresh -> YahooSource over httpx -> parse_chart ->
HistoryStore.upsert -> Market.reload) for the six bar series the refresh job fetches from Yahoo (RUT,
NDX, SPX, IWM, SPY, QQQ), one after another as the job does, with the wire answered in-process by a
transport that serves Yahoo v8 chart bodies built from the real histories, in the recorded fixture's
format, for exactly the range requested. As in a running bot, every refresh runs in one event loop over
one long-lived HTTP client; the timer covers ``await market.refresh(...)`` and nothing else.

- full rebuild: an empty history directory; the refresh fetches every bar of every series and writes
  the bases.
- incremental: history one session behind (written by ``HistoryStore.write`` in the columns a Yahoo
  refresh stores); the refresh fetches the overlap plus the new session of each series and upserts
  them. "warm" refreshes through the store that wrote the history (a running bot: what the store wrote
  is still in memory); "cold" through a new store (just after a restart: every file is read from disk,
  i.e. from the OS page cache).

Figures are medians over repeated runs in one process, interleaved, with garbage collected before each
(untimed). Afterwards one more series of incremental refreshes runs with the stages timed per call (the
timers wrap the stages, so those runs are not the headline).
"""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import numpy as np
import pandas as pd

import bot.sources.yahoo as yahoo
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
GOAL_RATIO = 0.05
REPEAT = 9


def chart_transport(
    frames: dict[str, pd.DataFrame], template: dict[str, Any]
) -> tuple[httpx.MockTransport, list[int]]:
    """Serve chart bodies of each Yahoo symbol in ``frames`` for the requested period; record how many
    bars each answer carried.

    It stands in for Yahoo, whose time is not capgap's: the columns are prepared once, so an answer
    costs a slice and a JSON encoding of the bars asked for.
    """
    prepared = {}
    for symbol, frame in frames.items():
        opens = frame.index.tz_localize("America/New_York") + pd.Timedelta(hours=9, minutes=30)
        stamps = (opens.tz_convert("UTC").asi8 // 1_000_000_000).astype("int64")
        columns = {c: frame[c].to_numpy() for c in ("open", "high", "low", "close", "volume")}
        prepared[symbol] = (stamps, columns)
    meta_text = json.dumps(template["chart"]["result"][0]["meta"])
    served: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        symbol = unquote(request.url.path.rsplit("/", 1)[-1])
        stamps, columns = prepared[symbol]
        p1 = int(request.url.params.get("period1", 0))
        p2 = int(request.url.params.get("period2", 2**31))
        lo, hi = (int(i) for i in np.searchsorted(stamps, [p1, p2]))
        served.append(hi - lo)
        meta = json.loads(meta_text)
        meta["symbol"] = symbol
        if hi > lo:
            # Yahoo describes the latest session's trading period; the template's is from 2021, which
            # would make the newest bar look live and be dropped as an intraday snapshot.
            start = int(stamps[hi - 1])
            end = start + 6 * 3600 + 1800
            period = meta["currentTradingPeriod"]
            period["pre"].update(start=start - 5 * 3600 - 1800, end=start)
            period["regular"].update(start=start, end=end)
            period["post"].update(start=end, end=end + 4 * 3600)
            meta["regularMarketTime"] = end
        quote = {c: values[lo:hi].tolist() for c, values in columns.items()}
        result = {
            "meta": meta,
            "timestamp": stamps[lo:hi].tolist(),
            "indicators": {"quote": [quote], "adjclose": [{"adjclose": quote["close"]}]},
        }
        return httpx.Response(200, json={"chart": {"result": [result], "error": None}})

    return httpx.MockTransport(handler), served


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


@contextmanager
def stage_timers(stages: dict[str, list[float]]) -> Iterator[None]:
    """Time the stages of a refresh by wrapping them; the originals are restored on exit."""
    patches: list[tuple[object, str, Any]] = []

    def wrap(owner: object, attr: str, stage: str) -> None:
        original = getattr(owner, attr)
        if asyncio.iscoroutinefunction(original):

            @functools.wraps(original)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return await original(*args, **kwargs)
                finally:
                    stages.setdefault(stage, []).append(time.perf_counter() - started)

            replacement: Callable[..., Any] = timed_async
        else:

            @functools.wraps(original)
            def timed(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    stages.setdefault(stage, []).append(time.perf_counter() - started)

            replacement = timed
        patches.append((owner, attr, original))
        setattr(owner, attr, replacement)

    wrap(YahooSource, "fetch", "yahoo: fetch (request + answer + parse)")
    wrap(yahoo, "parse_chart", "yahoo: parse_chart")
    wrap(HistoryStore, "last_date", "history: last_date")
    wrap(HistoryStore, "upsert", "history: upsert")
    wrap(Market, "reload", "market: reload (names, load, meta, strips, status)")
    wrap(HistoryStore, "load", "history: load (within reload)")
    try:
        yield
    finally:
        for owner, attr, original in reversed(patches):
            setattr(owner, attr, original)


def run() -> list[dict[str, Any]]:
    data = require_shared_data()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        history_dir = Path(tmp) / "history"
        history = HistoryStore(history_dir)
        frames = {}
        for name, rel in FILES.items():
            frames[name] = read_series_csv(data / rel, name).frame
            history.write(name, frames[name], source="csv", fetched_at=None)
        total_rows = sum(len(f) for f in frames.values())
        # Cold: a new store each time, so every file is opened and decoded (from the OS page cache).
        load_s = median_time(lambda: load_all(HistoryStore(history_dir)), repeat=15)
        load_warm_s = median_time(lambda: load_all(history), repeat=15)
        rows.append(
            row(
                f"load all history ({len(FILES)} series, {total_rows:,} rows), cold store ms",
                load_s * 1000,
                "milliseconds (< 100)",
                load_s < 0.1,
            )
        )
        rows.append(row("load all history again, same store ms", load_warm_s * 1000, "reference"))

        # The bar series the refresh job fetches from Yahoo, each refreshed in turn as the job does.
        bars = {name: frame for name, frame in frames.items() if "close" in frame.columns}
        template = json.loads((data / TEMPLATE).read_text())["response"]["bodyJson"]
        transport, served = chart_transport({yahoo.yahoo_symbol(n): f for n, f in bars.items()}, template)
        last = min(f.index[-1] for f in bars.values())
        bars = {name: frame.loc[:last] for name, frame in bars.items()}
        now = datetime(last.year, last.month, last.day, 23, 0, tzinfo=UTC)
        names = list(bars)

        async def timed_refresh(client: httpx.AsyncClient, store: HistoryStore) -> float:
            # What the scheduled job does in a running bot: one refresh on its long-lived Market and
            # HTTP client, inside the running event loop (neither is created per refresh).
            market = Market(store, FixedClock(now), {"yahoo": YahooSource(client)})
            # The garbage of the previous sample (a full rebuild leaves ~10^6 objects) is collected
            # here, untimed, not inside whichever sample happens to cross the collector's threshold.
            gc.collect()
            started = time.perf_counter()
            await market.refresh(names)
            elapsed = time.perf_counter() - started
            # Untimed: the refresh must have stored every session of every series, the newest included.
            check = HistoryStore(store.directory)
            for name, frame in bars.items():
                meta = check.meta(name)
                if meta is None or (meta.rows, meta.last) != (len(frame), last.date()):
                    raise RuntimeError(f"the refresh left {name} {meta}, not {len(frame)} rows up to {last.date()}")
            return elapsed

        async def full(client: httpx.AsyncClient) -> float:
            return await timed_refresh(client, HistoryStore(Path(tempfile.mkdtemp(dir=tmp))))

        incremental_dir = Path(tmp) / "incremental"
        # One session behind, in the columns a Yahoo refresh stores (the transport serves adjclose =
        # close): the overlap then comes back unchanged, as on a real day. From the CSV's columns every
        # refresh would instead add an adjclose column to every stored row.
        behind = {
            name: frame.iloc[:-1].assign(adjclose=frame["close"].iloc[:-1])[
                ["open", "high", "low", "close", "adjclose", "volume"]
            ]
            for name, frame in bars.items()
        }

        async def incremental(client: httpx.AsyncClient, *, warm: bool) -> float:
            store = HistoryStore(incremental_dir)
            for name, frame in behind.items():
                store.write(name, frame, source="yahoo", fetched_at=None)
            return await timed_refresh(client, store if warm else HistoryStore(incremental_dir))

        async def measure() -> tuple[dict[str, list[float]], dict[str, list[float]], list[float]]:
            async with httpx.AsyncClient(transport=transport) as client:
                return await measure_with(client)

        async def measure_with(
            client: httpx.AsyncClient,
        ) -> tuple[dict[str, list[float]], dict[str, list[float]], list[float]]:
            # Interleaved, after one warm-up of each, so drift in the machine hits all three alike.
            await full(client)
            await incremental(client, warm=True)
            await incremental(client, warm=False)
            samples: dict[str, list[float]] = {"full": [], "warm": [], "cold": []}
            for _ in range(REPEAT):
                samples["full"].append(await full(client))
                samples["warm"].append(await incremental(client, warm=True))
                samples["cold"].append(await incremental(client, warm=False))
            # Where the incremental (warm) refresh spends its time.
            stages: dict[str, list[float]] = {}
            totals: list[float] = []
            with stage_timers(stages):
                for _ in range(REPEAT):
                    totals.append(await incremental(client, warm=True))
            return samples, stages, totals

        samples, stages, totals = asyncio.run(measure())
        full_bars = sum(served[: len(names)])
        incr_bars = sum(served[-len(names) :])
        label = f"{len(names)} series ({', '.join(names)})"
        full_ms, warm_ms, cold_ms = (median_ms(samples[k]) for k in ("full", "warm", "cold"))
        rows.append(row(f"full rebuild of {label}: {full_bars:,} bars fetched, ms", full_ms, "reference"))
        rows.append(row(f"incremental refresh of the {len(names)}: {incr_bars} bars fetched, warm store ms", warm_ms, "reference"))
        rows.append(row(f"incremental refresh of the {len(names)}: {incr_bars} bars fetched, cold store ms", cold_ms, "reference"))
        rows.append(
            row("incremental (warm) / full rebuild", warm_ms / full_ms, f"<= {GOAL_RATIO}", warm_ms / full_ms <= GOAL_RATIO)
        )
        rows.append(
            row("incremental (cold) / full rebuild", cold_ms / full_ms, f"<= {GOAL_RATIO}", cold_ms / full_ms <= GOAL_RATIO)
        )

        for stage, times in stages.items():
            rows.append(row(f"  incremental, {stage} ms (per call)", median_ms(times), "reference"))
        rows.append(row("  incremental, whole refresh while timed ms", median_ms(totals), "reference"))
    # Linux reports kilobytes.
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows.append(row("peak RSS of this process MB", rss_mb, "reference"))
    return rows


if __name__ == "__main__":
    from bench.common import print_table

    print_table(run())
