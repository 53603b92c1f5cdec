"""The /status message for operators."""

from __future__ import annotations

from bot.i18n import N_, Safe, tr
from bot.market import Snapshot
from bot.render import format as fmt
from bot.render.text import join, source_label


def render_status(snap: Snapshot, lang: str, *, store_ok: bool | None, outbox: dict[str, int] | None) -> Safe:
    lines: list[str] = [tr(N_("<b>capgap status</b> · snapshot as of close {asof}"), lang, asof=fmt.day(snap.asof, lang))]
    if not snap.status:
        lines.append(tr(N_("No series stored yet: run `capgap refresh` or `capgap import`."), lang))
    for name, status in sorted(snap.status.items()):
        state = tr(N_("STALE"), lang) if status.stale else tr(N_("ok"), lang)
        lines.append(
            tr(
                N_("<b>{series}</b> {state} · last {last} · via {source} · fetched {fetched}"),
                lang,
                series=name,
                state=state,
                last=fmt.day(status.last_date, lang) if status.last_date else "—",
                source=source_label(status.source),
                fetched=fmt.instant(status.fetched_at, lang) if status.fetched_at else "—",
            )
        )
        if status.last_error:
            lines.append(tr(N_("  last error: {error}"), lang, error=status.last_error[:300]))
    strip = snap.latest_strip()
    lines.append(
        tr(N_("ZQ strip: {trade_date}"), lang, trade_date=fmt.day(strip.trade_date, lang)) if strip
        else tr(N_("ZQ strip: none stored"), lang)
    )
    if store_ok is not None:
        lines.append(tr(N_("Store: {state}"), lang, state=tr(N_("ok"), lang) if store_ok else tr(N_("unreachable"), lang)))
    if outbox is not None:
        lines.append(tr(N_("Outbox: {pending} pending, {sent} sent, {dead} dead"), lang,
                        pending=outbox.get("pending", 0), sent=outbox.get("sent", 0), dead=outbox.get("dead", 0)))
    return join(lines)
