"""Command latency: the real PTB Application processing updates in-process, warm snapshot.

The Application is capgap's own (bot/app.py build_application), with PTB's HTTP transport replaced by a
request object that answers every Bot API call at once, so what is measured is capgap's cost per update
(parse, snapshot, metric, render, reply) against an echo handler registered in the same application,
ahead of the bot's handlers, that answers with a message of the same shape (HTML, one button).

Each command is timed in rounds interleaved with the echo (echo and the commands of a phase take turns,
in a rotating order), so a change in the load of the machine between two blocks of updates cannot pass
for a difference between a command and the echo. Each command runs on a snapshot where it has data to
answer with: /fedodds on the day of the CME settlement strip in the shared data (2026-09-17), the others
on the last close of the index files (2026-02-20).
"""

from __future__ import annotations

import asyncio
import html
import json
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import ApplicationHandlerStop, CommandHandler, ContextTypes

from bench.common import require_shared_data, row
from bot import calendar
from bot.app import build_application
from bot.clock import FixedClock
from bot.config import Settings
from bot.history import HistoryStore
from bot.market import Market, record_odds
from bot.seam import Services
from bot.sources.cme import parse_cme_settlements
from bot.sources.csvfile import read_series_csv
from bot.sources.fred import parse_fredgraph_csv
from bot.store.factory import make_store
from bot.telegram_edge import NO_PREVIEW
from tests.instant import InstantRequest, update_for
from tests.shared_files import SHARED_FILES

UPDATES = 2000
WARMUP = 20  # rounds whose timings are dropped: the first ones fill the snapshot's caches
COMMANDS = ("/r2k", "/spread", "/fedodds", "/pe")
ECHO = "/echo hi"
ECHO_MARKUP = InlineKeyboardMarkup([[InlineKeyboardButton("chart", callback_data="echo:chart")]])
# (as-of close, commands timed on its snapshot)
PHASES = ((date(2026, 2, 20), ("/r2k", "/spread", "/pe")), (date(2026, 9, 17), ("/fedodds",)))


def load_real_history(data: Path, history: HistoryStore) -> None:
    for name in ("RUT", "NDX", "SPX"):
        history.write(name, read_series_csv(data / SHARED_FILES[name], name).frame, source="csv", fetched_at=None)
    history.put_strip(parse_cme_settlements((data / "fixtures/cme/settlements_ZQ_20260917.json").read_bytes()))
    bundle = json.loads((data / "fixtures/cme/fred_target_range_202609.json").read_text())
    for series_id, body in bundle.items():
        history.write(series_id, parse_fredgraph_csv(body, series_id), source="fred", fetched_at=None)
    record_odds(history)
    add_pe_proxies(history)


def add_pe_proxies(history: HistoryStore) -> None:
    """The shared data holds no small-cap P/E history, and without one /pe only says "no data yet". These
    stand in for the trailing P/Es the bot records each session from Yahoo (PE_SPY, PE_IJR): two years of
    made-up values, so /pe computes and renders its gap, mean and percentile like on recorded data."""
    days = pd.bdate_range("2024-01-02", "2026-02-20")
    wave = np.sin(np.arange(len(days)) / 40.0)
    for name, values in (("PE_SPY", 26.0 + 1.5 * wave), ("PE_IJR", 17.0 - 1.0 * wave)):
        history.write(name, pd.DataFrame({"value": values}, index=days), source="yahoo_pe", fetched_at=None)


async def measure(tmp: Path) -> dict[str, tuple[list[float], list[float]]]:
    """-> {command or the echo: (its timings, the echo's timings in the same rounds)}, in seconds."""
    data = require_shared_data()
    history = HistoryStore(tmp / "history")
    load_real_history(data, history)
    clock = FixedClock(calendar.session_close(PHASES[0][0]))
    # The reply rate limiter would measure Telegram's 30 msg/s, not capgap: lift it for this benchmark.
    settings = Settings(telegram_token="123456:" + "A" * 35, data_dir=tmp, refresh_enabled=False, rate_limit_per_second=1e6,
                        rate_limit_per_group_minute=1e6, _env_file=None)  # type: ignore[call-arg]
    store = make_store(data_dir=tmp, redis_url=None)
    services = Services(settings=settings, clock=clock, history=history, market=Market(history, clock), store=store)
    application = build_application(settings, services, request=InstantRequest())

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None and update.effective_message is not None
        # A message of the shape of the bot's replies (HTML, no link preview, one button), so the ratio
        # is capgap's own work per update, not PTB's cost of a richer message than a bare echo's.
        await context.bot.send_message(update.effective_chat.id, html.escape(update.effective_message.text or ""),
                                       parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW,
                                       reply_markup=ECHO_MARKUP)
        raise ApplicationHandlerStop  # nothing else answers it: not the bot's "unknown command" reply

    # In a group before the bot's handlers, so the echo (not the unknown-message handler) answers /echo.
    application.add_handler(CommandHandler("echo", echo), group=-1)
    timings: dict[str, tuple[list[float], list[float]]] = {}
    async with application:
        assert application.post_init is not None
        await application.post_init(application)
        update_id = 0
        for asof, commands in PHASES:
            clock.instant = calendar.session_close(asof)
            services.market.reload()
            texts = (ECHO, *commands)
            samples: dict[str, list[float]] = {text: [] for text in texts}
            for round_ in range(UPDATES + WARMUP):
                shift = round_ % len(texts)
                for text in texts[shift:] + texts[:shift]:
                    update_id += 1
                    update = Update.de_json(update_for(text, update_id), application.bot)
                    started = time.perf_counter()
                    await application.process_update(update)
                    samples[text].append(time.perf_counter() - started)
            echo = samples[ECHO][WARMUP:]
            for text in commands:
                timings[text] = (samples[text][WARMUP:], echo)
            all_echo = timings.setdefault(ECHO, ([], []))[0]
            all_echo += echo
    return timings


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        timings = asyncio.run(measure(Path(tmp)))
    rows = [row("echo handler median ms", statistics.median(timings[ECHO][0]) * 1000, "reference")]
    for text in COMMANDS:
        samples, echo_samples = sorted(timings[text][0]), timings[text][1]
        median, echo = statistics.median(samples), statistics.median(echo_samples)
        p99 = samples[int(len(samples) * 0.99) - 1]
        rows.append(row(f"{text} median ms (p99 {p99 * 1000:.2f})", median * 1000, "reference"))
        rows.append(row(f"{text} median / echo", median / echo, "<= 1.3", median / echo <= 1.3))
    return rows


if __name__ == "__main__":
    from bench.common import print_table

    print_table(run())
