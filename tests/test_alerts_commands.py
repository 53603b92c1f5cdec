"""/subscribe, /backtest and /help subscribe as a chat sees them: each rule's parameters and defaults,
what a second /subscribe of a rule changed, and /backtest's own usage line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from bot.alerts.rules import RULES
from bot.app import run_command
from bot.history import HistoryStore
from bot.render.text import as_terminal_text
from bot.seam import Request, Services, split_args
from handlers.registry import COMMANDS
from tests.commands_data import services_for, with_embedded_store

ASOF = date(2026, 2, 20)


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    async with with_embedded_store(services_for(HistoryStore(tmp_path / "history"), ASOF, tmp_path)) as services:
        yield services


async def say(services: Services, text: str, lang: str = "en") -> str:
    name, args = split_args(text)
    request = Request(command=name, args=args, lang=lang, chat_id=5)
    return as_terminal_text((await run_command(services, COMMANDS[name], request)).text)


async def test_help_subscribe_lists_every_rule_with_its_parameters_and_defaults(services: Services) -> None:
    text = await say(services, "/help subscribe")
    for rule in RULES.values():
        assert rule.id in text
    for needle in ("/subscribe cut_odds X", "default 75", "/subscribe pe_gap N [M]", "default 8 turns, 3 sessions",
                   "/subscribe r2k_drawdown X", "default 10", "[52w | all | since:YYYY-MM-DD]", "until:YYYY-MM-DD", "resolved"):
        assert needle in text, needle
    zh = await say(services, "/help subscribe", "zh-Hant")
    assert "預設 75" in zh and "規則、參數與預設值" in zh


async def test_subscribe_again_says_what_changed(services: Services) -> None:
    first = await say(services, "/subscribe cut_odds 75")
    assert first.startswith("✅ Subscribed:")
    changed = await say(services, "/subscribe cut_odds 80 until:2026-12-31")
    assert changed.startswith("✅ Subscription changed:") and "level 75 → 80" in changed and "last day — → 2026-12-31" in changed
    same = await say(services, "/subscribe cut_odds 80 until:2026-12-31")
    assert same.startswith("✅ Already subscribed, with the same parameters:")
    window = await say(services, "/subscribe r2k_high")
    assert window.startswith("✅ Subscribed:")
    assert "window 2021-11-08 → 52w" in await say(services, "/subscribe r2k_high 52w")
    zh = await say(services, "/subscribe cut_odds 70", "zh-Hant")
    assert "訂閱已更改" in zh and "門檻 80 → 70" in zh


@pytest.mark.parametrize(("text", "expected"), [
    ("/backtest pe_gap banana", "Usage: /backtest pe_gap N [M] — gap ≥ N turns for M sessions (default 8 turns, 3 sessions)"),
    ("/backtest cut_odds 150",
     "Usage: /backtest cut_odds X — the next meeting's cut probability reaches X% (1–99, default 75; ±5 pp hysteresis)"),
    ("/backtest fed_decision 3", "Usage: /backtest fed_decision"),
])
async def test_backtest_bad_parameter_shows_the_backtest_usage_of_that_rule(services: Services, text: str, expected: str) -> None:
    answer = await say(services, text)
    assert answer == expected and "/subscribe" not in answer
    zh = await say(services, text, "zh-Hant")
    assert zh.startswith("用法：/backtest ") and "/subscribe" not in zh


async def test_backtest_unknown_rule_shows_the_backtest_usage(services: Services) -> None:
    answer = await say(services, "/backtest nope")
    assert answer.startswith("Usage: /backtest RULE [params]") and "/help subscribe" in answer


INTERNAL = ("CUTPROB_NEXT", "ZQ_STRIPS", "cut_prob_next", "rut_close", "pe_gap_series", "at or above a level",
            "overtakes (or falls behind)")


@pytest.mark.parametrize("rule_id", sorted(RULES))
async def test_backtest_without_data_names_the_data_as_users_know_it(services: Services, rule_id: str) -> None:
    text = await say(services, f"/backtest {rule_id}")
    assert text.startswith("No data stored yet for ")
    assert not [word for word in INTERNAL if word in text], text
    assert "No data stored yet for cut odds history." in await say(services, "/backtest cut_odds")
    assert "降息機率歷史" in await say(services, "/backtest cut_odds", "zh-Hant")


async def test_backtest_of_cut_odds_cites_the_strips_and_target_range_not_an_internal_series_id(
    shared_data: Path, tmp_path: Path
) -> None:
    from tests.commands_data import ask, import_real_data

    day = date(2026, 9, 17)
    services = services_for(import_real_data(shared_data, tmp_path / "history"), day, tmp_path)
    text, _ = await ask(services, "/backtest cut_odds 40", asof=day)
    assert text.startswith("Backtest:") and "CUTPROB_NEXT" not in text
    assert "CME settlements (ZQ)" in text and "FRED (DFEDTARL)" in text  # what the cut odds are computed from


@pytest.mark.parametrize("text", ["/subscribe pe_gap 9 " + "9" * 5000, "/subscribe pe_gap " + "9" * 5000,
                                  "/subscribe cut_odds ７５",
                                  "/subscribe r2k_high " + "9" * 5000 + "w", "/mute " + "9" * 5000 + "h"])
async def test_subscribe_and_mute_with_huge_or_non_ascii_digits_get_their_usage_line(services: Services, text: str) -> None:
    answer = await say(services, text)
    assert answer.startswith(("Usage: /subscribe", "Usage: /mute"))
