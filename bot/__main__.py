"""The `capgap` command line (also `python -m bot`): run | ask | refresh | import | export | backtest | health."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from bot.config import LANGUAGES, Settings

NO_TOKEN_HELP = """\
capgap: no Telegram bot token configured.

To run the bot you need a token from Telegram:
  1. Open Telegram and start a chat with @BotFather (https://t.me/BotFather).
  2. Send /newbot, choose a display name and a username ending in "bot".
  3. BotFather replies with a token like 123456789:AAE...; keep it secret.
  4. Put it in the environment or in a .env file next to the Makefile:
       CAPGAP_TELEGRAM_TOKEN=123456789:AAE...
  5. Run `make run` again.

Without a token you can still ask the bot's questions in this terminal, from the same code:
  .venv/bin/capgap import ../shared/data/indices/RUT_yahoo_alitalbi.csv --series RUT
  .venv/bin/capgap ask "/r2k"
  .venv/bin/capgap ask --lang zh-Hant --as-of 2026-02-20 "/r2k"
"""


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="capgap",
        description="capgap: a Telegram bot for the US small-cap vs large-cap story.",
        epilog="Configuration comes from CAPGAP_* environment variables or a .env file (see README).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser("run", help="start the bot (long polling by default)", description="Start the bot.")
    run.add_argument("--webhook", metavar="URL", help="serve a webhook at URL instead of polling "
                     "(needs CAPGAP_WEBHOOK_SECRET; listens on CAPGAP_WEBHOOK_LISTEN:CAPGAP_WEBHOOK_PORT)")

    ask = sub.add_parser("ask", help="answer one command in the terminal, as the bot would",
                         description="Run a bot command through the same handler code and print the reply.")
    ask.add_argument("text", metavar="COMMAND_TEXT", help='the message, e.g. "/r2k" or "/spread 1y"')
    ask.add_argument("--lang", choices=LANGUAGES, default="en", help="reply language (default en)")
    ask.add_argument("--as-of", type=_parse_date, metavar="YYYY-MM-DD",
                     help="answer as the bot would have after that date's close, from data up to it")
    ask.add_argument("--chart-out", type=Path, metavar="FILE", help="write the reply's chart PNG here")

    refresh = sub.add_parser("refresh", help="fetch or update market history from the data sources",
                             description="Fetch what history is missing (everything, the first time).")
    refresh.add_argument("series", nargs="*", help="series to refresh (default: all)")

    imp = sub.add_parser("import", help="load a CSV (or a saved CME settlements JSON) into history",
                         description="Load a file into history. Series: RUT NDX SPX SP600 IWM IJR SPY QQQ, "
                         "FRED ids (DFEDTARU DFEDTARL DFEDTAR EFFR DGS10 ...), P/E series (PE_SPX_FWD "
                         "PE_SP600_FWD ...), or ZQ for a CME settlements JSON.")
    imp.add_argument("file", type=Path, help="the CSV or JSON file")
    imp.add_argument("--series", required=True, metavar="NAME", help="series name (e.g. RUT, DFEDTARU, ZQ)")
    imp.add_argument("--replace", action="store_true",
                     help="replace the stored series with the file, even where it differs from what is stored by "
                     "more than 2%% (median over the common dates); the previous history is saved as a CSV "
                     "under DATA_DIR/backups first")
    exp = sub.add_parser("export", help="write a stored series as CSV (the columns import reads)",
                         description="Write a stored series to FILE (stdout without FILE) as CSV with the columns "
                         "`capgap import` reads: Date,Open,High,Low,Close,Adj Close,Volume or Date,Value.")
    exp.add_argument("series", metavar="SERIES", help="series name (e.g. RUT, DFEDTARU, PE_SPX_FWD)")
    exp.add_argument("file", type=Path, nargs="?", metavar="FILE", help="the CSV file to write (default: stdout)")
    bt = sub.add_parser("backtest", help="run an alert rule over stored history: when it fired and what followed",
                        description="Same as the bot's /backtest: e.g. `capgap backtest r2k_high 52w`.")
    bt.add_argument("rule", help="r2k_high, pe_gap, cut_odds, cut_odds_move, fed_decision, r2k_drawdown, spread_flip")
    bt.add_argument("params", nargs="*", help="the rule's parameters, as in /subscribe")
    bt.add_argument("--lang", choices=LANGUAGES, default="en")
    bt.add_argument("--as-of", type=_parse_date, metavar="YYYY-MM-DD", help="use history up to this date only")

    sub.add_parser("health", help="exit 0 when the running bot's heartbeat is recent (container health check)",
                   description="Check the heartbeat file the running bot refreshes every minute.")
    return parser


HEARTBEAT_MAX_AGE_S = 180


def _health() -> int:
    settings = _settings()
    beat = settings.data_dir / "heartbeat"
    if not beat.exists():
        print(f"unhealthy: no heartbeat at {beat} (is the bot running?)", file=sys.stderr)
        return 1
    age = datetime.now(UTC).timestamp() - beat.stat().st_mtime
    if age > HEARTBEAT_MAX_AGE_S:
        print(f"unhealthy: last heartbeat {age:.0f} s ago", file=sys.stderr)
        return 1
    print(f"healthy: heartbeat {age:.0f} s ago")
    return 0


def _settings() -> Settings:
    return Settings()


def _services(settings: Settings, *, asof: date | None, with_store: bool):  # type: ignore[no-untyped-def]
    from bot import calendar
    from bot.clock import FixedClock, SystemClock
    from bot.market import Market
    from bot.store.factory import make_history
    from handlers.base import Services

    # History lives in the store: the Redis of CAPGAP_REDIS_URL, else the SQLite file in the data dir
    # (old .cgh files there are converted first, once).
    history = make_history(data_dir=settings.data_dir, redis_url=settings.redis_url)
    if asof is not None:
        # Answer as the bot would have just after that day's close (or the last session before it).
        session = asof if calendar.is_session(asof) else calendar.previous_session(asof)
        clock = FixedClock(calendar.session_close(session))
        market = Market(history, clock, fixed_asof=asof)
    else:
        clock = SystemClock()
        market = Market(history, clock)
    store = None
    if with_store:
        from bot.store.factory import make_store

        store = make_store(data_dir=settings.data_dir, redis_url=settings.redis_url)
    return Services(settings=settings, clock=clock, history=history, market=market, store=store)


async def _ask(args: argparse.Namespace) -> int:
    from bot.app import run_command
    from bot.render.i18n import tr
    from bot.render.text import as_terminal_text
    from handlers.base import Request, split_args
    from handlers.registry import COMMANDS

    settings = _settings()
    name, words = split_args(args.text if args.text.startswith("/") else "/" + args.text)
    command = COMMANDS.get(name)
    if command is None:
        known = " ".join("/" + c for c in COMMANDS)
        print(f"capgap ask: unknown command {args.text!r}. Known: {known}", file=sys.stderr)
        return 2
    services = _services(settings, asof=args.as_of, with_store=False)
    request = Request(command=name, args=words, lang=args.lang, asof=args.as_of, is_admin=True)
    reply = await run_command(services, command, request)
    print(as_terminal_text(reply.text))
    if reply.chart is not None:
        if args.chart_out:
            args.chart_out.write_bytes(reply.chart.png)
            print(f"\n[chart written to {args.chart_out}]")
        else:
            print("\n" + as_terminal_text(tr("[this reply has a chart: add --chart-out FILE to save it]", args.lang)))
    return 0


async def _refresh(args: argparse.Namespace) -> int:
    from bot.sources.registry import open_sources

    settings = _settings()
    services = _services(settings, asof=None, with_store=False)
    names = [n.upper().lstrip("^") for n in args.series] or None
    apikey = settings.stooq_apikey.get_secret_value() if settings.stooq_apikey else None
    async with open_sources(stooq_apikey=apikey) as sources:
        services.market.sources = sources
        done: list[str] = []

        def progress(name: str) -> None:
            done.append(name)
            print(f"  [{len(done)}] {name}", flush=True)

        print("Refreshing market history (the first run downloads decades; later runs only what is new)...")
        snap = await services.market.refresh(names, progress=progress)
    failed = 0
    for name, status in sorted(snap.status.items()):
        mark = "STALE" if status.stale else "ok"
        err = f"  error: {status.last_error}" if status.last_error else ""
        print(f"{name:12} {mark:5} last {status.last_date}  via {status.source}{err}")
        failed += bool(status.last_error)
    return 1 if failed and failed == len(snap.status) else 0


def _import(args: argparse.Namespace) -> int:
    from bot.errors import SourceError
    from bot.series import SERIES, series_info
    from bot.store.factory import make_history

    settings = _settings()
    if not args.file.is_file():
        print(f"capgap import: no such file: {args.file}", file=sys.stderr)
        return 2
    history = make_history(data_dir=settings.data_dir, redis_url=settings.redis_url)
    name = args.series.strip().lstrip("^").upper()
    now = datetime.now(UTC)
    try:
        if args.file.suffix.lower() == ".json" and _is_fred_bundle(args.file):
            return _import_fred_bundle(args.file, history, now)
        if name in ("ZQ", "ZQ_STRIP", "CME") or args.file.suffix.lower() == ".json":
            from bot.sources.cme import parse_cme_settlements

            strip = parse_cme_settlements(args.file.read_bytes(), source="cme")
            history.put_strip(strip)
            from bot.market import record_odds

            record_odds(history)
            months = ", ".join(f"{m:%b %y} {p:.4f}" for m, p in sorted(strip.settles.items())[:6])
            print(f"Imported the ZQ strip of {strip.trade_date}: {len(strip.settles)} contract months ({months} ...)")
            return 0
        try:
            info = series_info(name)
        except KeyError:
            known = " ".join(SERIES)
            print(f"capgap import: unknown series {args.series!r}. Known: {known} ZQ", file=sys.stderr)
            return 2
        from bot.sources.csvfile import read_series_csv

        fetched = read_series_csv(args.file, info.name)
    except SourceError as exc:
        print(f"capgap import: {exc}", file=sys.stderr)
        return 1
    frame = fetched.frame
    source = f"csv:{args.file.name}"
    stored = history.load(info.name)
    if stored is not None and len(stored):
        from bot.history import REVISION_TOLERANCE, compare_overlap

        overlap = compare_overlap(stored, frame)
        if overlap.too_large and not args.replace:
            print(
                f"capgap import: refused, nothing written. {args.file.name} differs from the stored {info.name} by "
                f"{overlap.median_change:.1%} in median over the {overlap.dates:,} dates both hold ({overlap.column}; "
                f"an import may revise by at most {REVISION_TOLERANCE:.0%}). Is it another instrument (an ETF for an "
                f"index) or another unit? To replace the stored {info.name} with this file anyway, run it again "
                f"with --replace (the stored history is saved as a CSV first).",
                file=sys.stderr,
            )
            return 1
        if args.replace:
            backup = _backup_path(settings.data_dir, info.name, now)
            backup.parent.mkdir(parents=True, exist_ok=True)
            from bot.history import export_csv

            backup.write_text(export_csv(stored))
            history.write(info.name, frame, source=source, fetched_at=now)
            print(
                f"Replaced {info.name} with {args.file.name}: {len(frame)} rows {frame.index[0].date()} .. "
                f"{frame.index[-1].date()} (was {len(stored)} rows {stored.index[0].date()} .. "
                f"{stored.index[-1].date()}).\n  The previous history is saved in {backup}; to restore it: "
                f"capgap import {backup} --series {info.name} --replace"
            )
            return 0
    result = history.upsert(info.name, frame, source=source, fetched_at=now)
    print(
        f"Imported {info.name} from {args.file.name}: {len(frame)} rows {frame.index[0].date()} .. "
        f"{frame.index[-1].date()} ({result.added} new, {result.revised} revised; {result.rows} stored)"
    )
    dropped = fetched.meta.get("dropped_partial")
    if dropped:
        print(f"  note: the last row ({dropped}) looks like an intraday snapshot (volume 0) and was not imported")
    return 0


def _backup_path(data_dir: Path, name: str, now: datetime) -> Path:
    """Where ``import --replace`` saves the history it replaces (never overwriting an earlier one)."""
    base = Path(data_dir) / "backups" / f"{name}-before-import-{now:%Y%m%dT%H%M%SZ}"
    path, n = base.with_suffix(".csv"), 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}.csv")
    return path


def _export(args: argparse.Namespace) -> int:
    from bot.history import export_csv
    from bot.series import series_info
    from bot.store.factory import make_history

    settings = _settings()
    history = make_history(data_dir=settings.data_dir, redis_url=settings.redis_url)
    try:
        name = series_info(args.series).name
    except KeyError:
        name = args.series.strip().upper()  # a stored series the catalogue does not list (CUTPROB_NEXT)
    frame = history.load(name)
    if frame is None or frame.empty:
        stored = " ".join(history.names()) or "none"
        print(f"capgap export: no stored history of {args.series!r}. Stored: {stored}", file=sys.stderr)
        return 1
    text = export_csv(frame)
    if args.file is None:
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:  # `capgap export RUT | head`: the reader has all it wanted
            # Python's advice: point stdout at devnull so the flush at exit raises nothing more.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    args.file.write_text(text)
    print(f"Exported {name}: {len(frame)} rows {frame.index[0].date()} .. {frame.index[-1].date()} to {args.file}",
          file=sys.stderr)
    return 0


def _is_fred_bundle(path: Path) -> bool:
    """A JSON object of FRED ids -> fredgraph.csv bodies (as saved by our fixtures recorder)."""
    import json

    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and bool(data) and all(isinstance(v, str) and "," in v for v in data.values())


def _import_fred_bundle(path: Path, history, now: datetime) -> int:  # type: ignore[no-untyped-def]
    import json

    from bot.sources.fred import parse_fredgraph_csv

    for series_id, body in json.loads(path.read_text()).items():
        frame = parse_fredgraph_csv(body, series_id, origin=path.name)
        result = history.upsert(series_id, frame, source=f"csv:{path.name}", fetched_at=now)
        print(f"Imported {series_id} from {path.name}: {len(frame)} rows {frame.index[0].date()} .. "
              f"{frame.index[-1].date()} ({result.added} new, {result.revised} revised)")
    from bot.market import record_odds

    record_odds(history)
    return 0


def _run(args: argparse.Namespace) -> int:
    settings = _settings()
    if settings.telegram_token is None:
        print(NO_TOKEN_HELP, file=sys.stderr)
        return 2
    if args.webhook and settings.webhook_secret is None:
        print("capgap run --webhook needs CAPGAP_WEBHOOK_SECRET (1-256 characters A-Z a-z 0-9 _ -): Telegram "
              "sends it with every update and the bot rejects updates without it.", file=sys.stderr)
        return 2
    from bot.logsetup import setup_logging
    from bot.runtime import run_bot

    secrets = [settings.telegram_token.get_secret_value()]
    if settings.webhook_secret:
        secrets.append(settings.webhook_secret.get_secret_value())
    setup_logging(settings.log_level, secrets)
    services = _services(settings, asof=None, with_store=True)
    return run_bot(settings, services, webhook_url=args.webhook)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "ask":
        return asyncio.run(_ask(args))
    if args.command == "refresh":
        return asyncio.run(_refresh(args))
    if args.command == "import":
        return _import(args)
    if args.command == "export":
        return _export(args)
    if args.command == "backtest":
        text = " ".join(["/backtest", args.rule, *args.params])
        return asyncio.run(_ask(argparse.Namespace(text=text, lang=args.lang, as_of=args.as_of, chart_out=None)))
    if args.command == "health":
        return _health()
    return 2


if __name__ == "__main__":
    sys.exit(main())
