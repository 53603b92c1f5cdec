"""Rules are data all the way: each rule's own messages reach users, and a rule holds when a series its
metric reads is stale (bot/alerts/series.py says which, for every rule)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from bot.alerts.evaluator import AlertEvent
from bot.alerts.rules import RULES
from bot.alerts.series import METRICS
from bot.alerts.watcher import watch_once
from bot.market import SeriesStatus, Snapshot
from bot.render.alerts import render_alerts, render_event
from bot.store.base import ChatSettings, Subscription
from bot.store.sqlite import SqliteStore

NOW = datetime(2026, 2, 21, tzinfo=UTC)
ASOF = date(2026, 2, 20)


def event(rule_id: str, kind: str, value: float, reference: float | None = None, threshold: float = 0.25) -> AlertEvent:
    return AlertEvent(rule_id=rule_id, kind=kind, bar=ASOF, value=value, threshold=threshold, reference=reference,
                      params={}, params_key="x@0")


def test_render_event_spread_flip_resolved_says_it_fell_behind_in_both_languages() -> None:
    en = render_event(event("spread_flip", "resolved", -0.8), "en")
    assert "fell behind the Nasdaq-100" in en and "−0.80 pp" in en and "Resolved" not in en
    zh = render_event(event("spread_flip", "resolved", -0.8), "zh-Hant")
    assert zh != en and "Resolved" not in zh
    assert "overtook" in render_event(event("spread_flip", "firing", 0.4), "en")


def test_render_event_other_rules_resolved_use_the_common_notice_with_their_title() -> None:
    text = render_event(event("r2k_drawdown", "resolved", 7.5, threshold=10.0), "en")
    assert text.startswith("✅ Resolved (2026-02-20)") and "below its record close" in text


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_render_event_every_rule_firing_renders_its_own_msgid(rule_id: str) -> None:
    rule = RULES[rule_id]
    text = render_event(event(rule_id, "firing", 4.25, reference=4.5, threshold=10.0), "en")
    head = rule.msgid.split("{", 1)[0]
    assert text.startswith(head) and "{" not in text


def test_render_event_fed_decision_shows_the_old_and_new_upper_bound() -> None:
    text = render_event(event("fed_decision", "firing", 4.25, reference=4.5), "en")
    assert "upper bound 4.50% → 4.25%" in text


def snapshot(frames: dict[str, pd.DataFrame], stale: set[str]) -> Snapshot:
    status = {n: SeriesStatus(n, "csv", f.index[-1].date(), None, stale=n in stale) for n, f in frames.items()}
    return Snapshot(asof=ASOF, built_at=NOW, frames=frames, status=status)


def daily(values: list[float], column: str = "value") -> pd.DataFrame:
    days = pd.bdate_range(end=pd.Timestamp(ASOF), periods=len(values), name="date")
    return pd.DataFrame({column: values}, index=days)


@pytest.mark.parametrize(
    ("rule_id", "frames", "stale"),
    [
        ("pe_gap", {"PE_SPX_FWD": daily([22.0] * 10), "PE_SP600_FWD": daily([13.0] * 10)}, "PE_SP600_FWD"),
        ("fed_decision", {"DFEDTARU": daily([4.5] * 9 + [4.25])}, "DFEDTARU"),
    ],
)
async def test_watch_rule_whose_input_is_stale_holds(tmp_path: Path, rule_id: str, frames: dict[str, pd.DataFrame],
                                                     stale: str) -> None:
    store = SqliteStore(tmp_path / "capgap.sqlite3")
    await store.open()
    await store.put_chat(ChatSettings(chat_id=1))
    await store.put_subscription(Subscription(chat_id=1, rule_id=rule_id))
    snap = snapshot(frames, {stale})
    assert stale in METRICS[RULES[rule_id].metric].inputs(snap)
    report = await watch_once(store, snap, NOW, render_alerts)
    assert report.held == {rule_id: f"stale: {stale}"} and report.events == 0
    fresh = await watch_once(store, snapshot(frames, set()), NOW, render_alerts)
    assert rule_id not in fresh.held
    await store.close()
