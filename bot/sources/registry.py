"""Build every source over one shared httpx client (the refresh's, the CLI's)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx

from bot.sources.base import Source
from bot.sources.cme import CmeSource
from bot.sources.fred import FredSource
from bot.sources.http import new_client
from bot.sources.stooq import StooqSource
from bot.sources.yahoo import YahooSource
from bot.sources.yahoo_pe import YahooPESource


def build_sources(client: httpx.AsyncClient, *, stooq_apikey: str | None = None) -> dict[str, Source]:
    """Sources by the names bot/series.py lists them under. CME and Yahoo also serve ZQ strips."""
    sources: list[Source] = [
        YahooSource(client),
        YahooPESource(client),
        FredSource(client),
        StooqSource(client, apikey=stooq_apikey),
        CmeSource(client),
    ]
    return {s.name: s for s in sources}


@contextlib.asynccontextmanager
async def open_sources(*, stooq_apikey: str | None = None,
                       client: httpx.AsyncClient | None = None) -> AsyncIterator[dict[str, Source]]:
    own = client is None
    http = client or new_client()
    try:
        yield build_sources(http, stooq_apikey=stooq_apikey)
    finally:
        if own:
            await http.aclose()
