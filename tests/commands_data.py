"""A history directory with the real data imported, and a helper to ask commands (tests only)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path

from bot import calendar
from bot.app import run_command
from bot.clock import FixedClock
from bot.config import Settings
from bot.history import HistoryStore
from bot.market import Market, record_odds
from bot.render.text import as_terminal_text
from bot.seam import Reply, Request, Services, split_args
from bot.sources.cme import parse_cme_settlements
from bot.sources.csvfile import read_series_csv
from bot.sources.fred import parse_fredgraph_csv
from bot.store.factory import make_store
from handlers.registry import COMMANDS
from tests.shared_files import SHARED_FILES

FILES = {name: SHARED_FILES[name] for name in ("RUT", "NDX", "SPX", "DFEDTARU", "DFEDTARL", "DFEDTAR")}


def import_real_data(shared: Path, directory: Path, *, with_strip: bool = True) -> HistoryStore:
    history = HistoryStore(directory)
    for name, rel in FILES.items():
        history.write(name, read_series_csv(shared / rel, name).frame, source="csv:" + Path(rel).name, fetched_at=None)
    if with_strip:
        history.put_strip(parse_cme_settlements((shared / "fixtures/cme/settlements_ZQ_20260917.json").read_bytes()))
        bundle = json.loads((shared / "fixtures/cme/fred_target_range_202609.json").read_text())
        for series_id, body in bundle.items():
            history.upsert(series_id, parse_fredgraph_csv(body, series_id), source="fred", fetched_at=None)
        record_odds(history)
    return history


def services_for(history: HistoryStore, asof: date, tmp: Path) -> Services:
    clock = FixedClock(calendar.session_close(asof if calendar.is_session(asof) else calendar.previous_session(asof)))
    settings = Settings(data_dir=tmp, _env_file=None)  # type: ignore[call-arg]
    return Services(settings=settings, clock=clock, history=history, market=Market(history, clock, fixed_asof=asof), store=None)


@asynccontextmanager
async def with_embedded_store(services: Services) -> AsyncIterator[Services]:
    """``services`` with the embedded store of its data dir opened (what the running bot has; `capgap ask`
    has none), whatever CAPGAP_REDIS_URL the environment sets."""
    services.store = make_store(data_dir=services.settings.data_dir, redis_url=None)
    await services.store.open()
    try:
        yield services
    finally:
        await services.store.close()


async def ask(services: Services, text: str, *, lang: str = "en", asof: date | None = None) -> tuple[str, Reply]:
    name, args = split_args(text)
    request = Request(command=name, args=args, lang=lang, asof=asof, is_admin=True)
    reply = await run_command(services, COMMANDS[name], request)
    return as_terminal_text(reply.text), reply


def table_rows(text: str, header: list[str]) -> dict[str, list[str]]:
    """The then-and-now table of a reply as {range: [cell per column]}, read under its header line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split() == header)
    rows: dict[str, list[str]] = {}
    for line in lines[start + 1 :]:
        cells = line.split()
        if len(cells) != len(header) + 1:
            break
        rows[cells[0]] = cells[1:]
    return rows
