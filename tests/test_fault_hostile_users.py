"""Hostile users: generated command texts and callback data never raise past a handler, and no HTML a
user typed reaches a message unescaped."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Update
from telegram.ext import Application, ContextTypes

from bot import calendar
from bot.app import build_application
from bot.clock import FixedClock
from bot.config import Settings
from bot.history import HistoryStore
from bot.market import Market
from bot.seam import Services
from bot.store.factory import make_store
from handlers.registry import COMMANDS
from tests.instant import InstantRequest, callback_for, update_for
from tests.telegram_peer import HtmlParseError, parse_html

NASTY = st.sampled_from([
    "<b>x</b>", "<script>alert(1)</script>", "&", "&amp;", "<", ">", "*bold*", "_it_", "`code`", "[a](http://x)",
    "-3", "-1e309", "1e309", "NaN", "inf", "0", "99999999999999999999", "'; DROP TABLE chats; --", "$(rm -rf /)",
    "%s%s%n", "{lang}", "{0}", "\x00", "\u202e", "繁體", "😀", " " * 50, "a" * 5000, "2026-02-30", "1999-01",
    "since:2021-13-40", "52w", "-52w", "07:30", "25:99", "Asia/Taipei", "Mars/Olympus", "../../etc/passwd",
    "9" * 5000, "²", "١٢", "１２",
])
ARG = st.one_of(NASTY, st.text(min_size=1, max_size=40).filter(lambda s: s.strip() != ""))
COMMAND_TEXT = st.builds(
    lambda name, args, mention: f"/{name}{'@capgap_bench_bot' if mention else ''} " + " ".join(args),
    st.sampled_from(sorted(COMMANDS)),
    st.lists(ARG, max_size=4),
    st.booleans(),
)
ANY_TEXT = st.one_of(COMMAND_TEXT, st.text(max_size=200), NASTY.map(lambda s: "/" + s))


class Harness:
    def __init__(self, tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.request = InstantRequest(record=True)
        asof = date(2026, 2, 20)
        clock = FixedClock(calendar.session_close(asof))
        self.settings = Settings(telegram_token="123456:" + "A" * 35, data_dir=tmp, refresh_enabled=False, _env_file=None)  # type: ignore[call-arg]
        history = HistoryStore(tmp / "history")
        store = make_store(data_dir=tmp, redis_url=None)
        self.services = Services(settings=self.settings, clock=clock, history=history, market=Market(history, clock), store=store)
        self.application: Application = build_application(self.settings, self.services, request=self.request)  # type: ignore[type-arg]
        self.errors: list[BaseException] = []

        async def count(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
            if context.error is not None:
                self.errors.append(context.error)

        self.application.add_error_handler(count)
        self.loop.run_until_complete(self.application.initialize())
        assert self.application.post_init is not None
        self.loop.run_until_complete(self.application.post_init(self.application))
        self.update_id = 0

    def feed(self, payload: dict[str, object]) -> None:
        self.update_id += 1
        update = Update.de_json(payload, self.application.bot)
        self.loop.run_until_complete(self.application.process_update(update))

    def close(self) -> None:
        self.loop.run_until_complete(self.application.post_shutdown(self.application))  # type: ignore[misc]
        self.loop.run_until_complete(self.application.shutdown())
        self.loop.close()


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    h = Harness(tmp_path_factory.mktemp("hostile"))
    yield h
    h.close()


def assert_clean(h: Harness) -> None:
    assert h.errors == [], f"raised past a handler: {h.errors[:3]!r}"
    for method, params in h.request.calls:
        text = params.get("text") or params.get("caption")
        if text and params.get("parse_mode") == "HTML":
            try:
                parse_html(str(text))
            except HtmlParseError as exc:  # Telegram would refuse this message: something was not escaped
                pytest.fail(f"{method} sent HTML Telegram cannot parse ({exc}): {str(text)[:300]!r}")
            assert "<script" not in str(text)
    h.request.calls.clear()


@settings(max_examples=700, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(text=ANY_TEXT, lang=st.sampled_from(["en", "zh-hant", "fr", ""]))
def test_hostile_command_texts_are_answered_or_ignored_cleanly(harness: Harness, text: str, lang: str) -> None:
    harness.feed(update_for(text, harness.update_id + 1, chat_id=5000 + harness.update_id % 7, lang=lang))
    assert_clean(harness)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.one_of(st.text(max_size=64), NASTY,
                      st.builds(lambda a, b: f"{a}:{b}", st.sampled_from(["mute", "unmute", "del", "x"]), st.text(max_size=40))))
def test_hostile_callback_data_is_answered_or_ignored_cleanly(harness: Harness, data: str) -> None:
    harness.feed(callback_for(data, harness.update_id + 1))
    assert_clean(harness)


def test_hostile_html_in_an_argument_never_comes_back_as_markup(harness: Harness) -> None:
    harness.feed(update_for("/help <b>x</b>", harness.update_id + 1))
    sent = [p["text"] for m, p in harness.request.calls if m == "sendMessage"]
    assert sent and all("<b>x</b>" not in str(t) for t in sent)
    assert_clean(harness)


# Words shaped like numbers, dates, times and durations that a naive int()/float() chokes on: more digits
# than Python converts (4,300), digits that are not ASCII, huge exponents, and long or odd words.
HUGE = "9" * 5000
SHAPED = (
    HUGE, "-" + HUGE, HUGE + "%", HUGE + ".5", "0." + HUGE, "1e99999", HUGE + "w", HUGE + "d", HUGE + "h",
    "since:" + HUGE, "until:" + HUGE, HUGE + "-01", "2026-" + HUGE, HUGE + ":00", "08:" + HUGE,
    "²", "١٢", "１２", "٢٠٢٦-١٢", "０８:３０", "𝟗", "a" * 5000, "\u202e\u0000", "繁體" * 500,
)
# A valid word before the odd one, so that each parser reaches the argument it converts.
LEADS = {"subscribe": ("pe_gap 9", "cut_odds", "r2k_high", "cut_odds_move 10"), "backtest": ("pe_gap 9", "cut_odds"),
         "digest": ("on",), "alerts": ("mute",), "help": ("",)}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_with_huge_numbers_and_odd_unicode_answers_without_raising(harness: Harness, name: str) -> None:
    for lead in ("",) + LEADS.get(name, ()):
        for word in SHAPED:
            harness.request.calls.clear()
            text = " ".join(w for w in (f"/{name}", lead, word) if w)
            harness.feed(update_for(text, harness.update_id + 1, chat_id=6000))
            sent = [m for m, _ in harness.request.calls if m in ("sendMessage", "sendPhoto")]
            assert harness.errors == [], f"{text[:60]!r} raised {harness.errors[:1]!r}"
            assert sent, f"{text[:60]!r} got no answer"
            assert_clean(harness)
