"""The `capgap` command line (also `python -m bot`): run | ask | refresh | import | export | backtest | health."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import LANGUAGES, Settings

if TYPE_CHECKING:
    from bot.clock import Clock

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


def _installed_version() -> str:
    """The version pip installed (pyproject's), not a copy kept in the code."""
    try:
        return metadata.version("capgap")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="capgap",
        description="capgap: a Telegram bot for the US small-cap vs large-cap story.",
        epilog="Configuration comes from CAPGAP_* environment variables or a .env file (see README).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_installed_version()}")
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
                         "PE_SP600_FWD ...), or ZQ for a CME settlements JSON or a ZQ daily-contracts CSV.")
    imp.add_argument("file", type=Path, help="the CSV or JSON file")
    imp.add_argument("--series", required=True, metavar="NAME", help="series name (e.g. RUT, DFEDTARU, ZQ)")
    imp.add_argument("--replace", action="store_true",
                     help="replace the stored series with the file, even where it differs from what is stored by "
                     "more than 2%% (median over the common dates); the previous history is saved as a CSV "
                     "under DATA_DIR/backups first")
    imp.add_argument("--released", type=_parse_date, metavar="YYYY-MM-DD",
                     help="FEDTARMD only: the SEP meeting (decision day) the file's projections come from; by "
                     "default the last SEP published before now whose projection years the file fits")
    exp = sub.add_parser("export", help="write a stored series as CSV (the columns import reads)",
                         description="Write a stored series to FILE (stdout without FILE) as CSV with the columns "
                         "`capgap import` reads: Date,Open,High,Low,Close,Adj Close,Volume or Date,Value.")
    exp.add_argument("series", metavar="SERIES", help="series name (e.g. RUT, DFEDTARU, PE_SPX_FWD)")
    exp.add_argument("file", type=Path, nargs="?", metavar="FILE", help="the CSV file to write (default: stdout)")
    bt = sub.add_parser("backtest", help="run an alert rule over stored history: when it fired and what followed",
                        description="Same as the bot's /backtest: e.g. `capgap backtest r2k_high 52w`.")
    bt.add_argument("rule", help="r2k_high, pe_gap, cut_odds, cut_odds_move, fed_decision, r2k_drawdown, spread_flip, "
                    "fed_path_gap")
    bt.add_argument("params", nargs="*", help="the rule's parameters, as in /subscribe")
    bt.add_argument("--lang", choices=LANGUAGES, default="en")
    bt.add_argument("--as-of", type=_parse_date, metavar="YYYY-MM-DD", help="use history up to this date only")

    sub.add_parser("health", help="exit 0 when the running bot's heartbeat is recent (container health check)",
                   description="Check the heartbeats this host's running bot processes write every 30 s.")
    return parser


def _health() -> int:
    from bot import health

    result = health.check(_settings().data_dir, datetime.now(UTC).timestamp())
    print(f"{'healthy' if result.healthy else 'unhealthy'}: {result.message}",
          file=sys.stdout if result.healthy else sys.stderr)
    return 0 if result.healthy else 1


def _settings() -> Settings:
    return Settings()


def _services(settings: Settings, *, asof: date | None, with_store: bool, clock: Clock | None = None):  # type: ignore[no-untyped-def]
    """What a command needs: history, the market over it, and (for the bot) the store. ``clock`` is for
    tests that run the bot at an injected time; `capgap` itself uses the system clock."""
    from bot import calendar
    from bot.clock import FixedClock, SystemClock
    from bot.market import Market
    from bot.seam import Services
    from bot.store.factory import make_history

    # History lives in the store: the Redis of CAPGAP_REDIS_URL, else the SQLite file in the data dir
    # (old .cgh files there are converted first, once).
    history = make_history(data_dir=settings.data_dir, redis_url=settings.redis_url)
    if asof is not None:
        # Answer as the bot would have just after that day's close (or the last session before it).
        session = asof if calendar.is_session(asof) else calendar.previous_session(asof)
        clock = FixedClock(calendar.session_close(session))
        market = Market(history, clock, fixed_asof=asof)
    else:
        clock = clock or SystemClock()
        market = Market(history, clock)
    store = None
    if with_store:
        from bot.store.factory import make_store

        store = make_store(data_dir=settings.data_dir, redis_url=settings.redis_url)
    return Services(settings=settings, clock=clock, history=history, market=market, store=store)


def _asof_problem(asof: date | None) -> str | None:
    """Why ``--as-of`` cannot be answered (a date in the future, or outside the NYSE calendar), or None."""
    if asof is None:
        return None
    from zoneinfo import ZoneInfo

    from bot import calendar

    today = datetime.now(ZoneInfo("America/New_York")).date()
    if asof > today:
        return f"--as-of {asof} is in the future (today is {today} in New York): there is no close to answer from yet"
    if asof <= calendar.NYSE_FIRST:
        return (f"--as-of {asof} is before {calendar.NYSE_FIRST}, where the NYSE calendar capgap uses starts; "
                f"pick a later date")
    return None


async def _ask(args: argparse.Namespace) -> int:
    from bot.app import COMMANDS, run_command
    from bot.i18n import tr
    from bot.render.text import as_terminal_text
    from bot.seam import Request, split_args

    settings = _settings()
    name, words = split_args(args.text if args.text.startswith("/") else "/" + args.text)
    command = COMMANDS.get(name)
    if command is None:
        known = " ".join("/" + c for c in COMMANDS)
        print(f"capgap ask: unknown command {args.text!r}. Known: {known}", file=sys.stderr)
        return 2
    problem = _asof_problem(args.as_of)
    if problem:
        print(f"capgap {args.command}: {problem}", file=sys.stderr)
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
    from bot.history import STRIPS
    from bot.series import SERIES, series_key

    names = [series_key(n) for n in args.series] or None
    unknown = [n for n in names or () if n != STRIPS and (n not in SERIES or not SERIES[n].sources)]
    if unknown:
        fetchable = " ".join(n for n, info in SERIES.items() if info.sources)
        print(f"capgap refresh: no data source for {' '.join(unknown)}. Fetchable: {fetchable} {STRIPS}",
              file=sys.stderr)
        return 2
    apikey = settings.stooq_apikey.get_secret_value() if settings.stooq_apikey else None
    async with open_sources(stooq_apikey=apikey) as sources:
        services.market.sources = sources
        done: list[str] = []

        def progress(name: str) -> None:
            done.append(name)
            print(f"  [{len(done)}] {name}", flush=True)

        print("Refreshing market history (the first run downloads decades; later runs only what is new)...")
        snap = await services.market.refresh(names, progress=progress)
    return _print_refresh(snap, services.market.last_report)


def _print_refresh(snap, report) -> int:  # type: ignore[no-untyped-def]
    """One line per series: what was fetched, or what failed and what history was kept. Exit status 1
    when any series that has a data source could not be fetched."""
    from bot.market import RefreshReport
    from bot.series import SERIES

    report = report or RefreshReport()
    for name, status in sorted(snap.status.items()):
        last = status.last_date.isoformat() if status.last_date else "nothing stored"
        if name in report.failed:
            kept = f"kept what was stored (last {last})" if status.last_date else "nothing stored yet"
            print(f"{name:12} FAILED  {kept}; {report.failed[name]}")
        elif name in report.fetched:
            mark = "STALE" if status.stale else "ok"
            print(f"{name:12} {mark:7} last {last} via {report.fetched[name]} (new or revised rows: {report.rows.get(name, 0)})")
        elif name in SERIES and not SERIES[name].sources:
            print(f"{name:12} import  last {last} from {status.source} (no data source: `capgap import` only)")
        else:
            print(f"{name:12} {'STALE' if status.stale else 'ok':7} last {last} from {status.source} (not asked for)")
    if report.failed:
        print(f"capgap refresh: {len(report.failed)} series could not be fetched: {', '.join(sorted(report.failed))}",
              file=sys.stderr)
        return 1
    return 0


def _import(args: argparse.Namespace) -> int:
    from bot.errors import SourceError
    from bot.series import SERIES, series_info, series_key
    from bot.sources.fred import SEP_SERIES, parse_sep_export
    from bot.store.factory import make_history

    settings = _settings()
    note = ""
    if not args.file.is_file():
        print(f"capgap import: no such file: {args.file}", file=sys.stderr)
        return 2
    history = make_history(data_dir=settings.data_dir, redis_url=settings.redis_url)
    name = series_key(args.series)
    now = datetime.now(UTC)
    try:
        if args.file.suffix.lower() == ".json" and _is_fred_bundle(args.file):
            return _import_fred_bundle(args.file, history, now)
        if name in ("ZQ", "ZQ_STRIP", "CME") or args.file.suffix.lower() == ".json":
            from bot.sources.cme import parse_cme_settlements
            from bot.sources.zq_daily import is_zq_daily_file

            data = args.file.read_bytes()
            if is_zq_daily_file(data, origin=args.file.name):
                return _import_zq_daily(args.file, data, history)
            strip = parse_cme_settlements(data, source=f"file:{args.file.name}")
            history.put_strip(strip)
            from bot.market import record_odds

            record_odds(history, [strip.trade_date])
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

        if args.released is not None and info.name not in SEP_SERIES:
            print("capgap import: --released is for FEDTARMD only", file=sys.stderr)
            return 2
        exported = parse_sep_export(args.file.read_text(encoding="utf-8-sig", errors="replace"), args.file.name) \
            if info.name in SEP_SERIES else None
        if exported is not None:  # capgap's own export: already one row per SEP release
            if args.released is not None:
                print("capgap import: --released is for FRED's layout; this export names its SEPs", file=sys.stderr)
                return 2
            frame, dropped = exported, None
            note = f"  note: capgap's FEDTARMD export, {len(frame)} SEP release" + ("s" if len(frame) != 1 else "")
        else:
            fetched = read_series_csv(args.file, info.name)
            frame, dropped = fetched.frame, fetched.meta.get("dropped_partial")
            if info.name in SEP_SERIES:
                frame, note = _sep_import(frame, args.released, now)
    except SourceError as exc:
        print(f"capgap import: {exc}", file=sys.stderr)
        return 1
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
    if note:
        print(note)
    if dropped:
        print(f"  note: the last row ({dropped}) looks like an intraday snapshot (volume 0) and was not imported")
    return 0


def _sep_import(by_year, released: date | None, now: datetime):  # type: ignore[no-untyped-def]
    """A FEDTARMD file as FRED dates it (one row per projection year) -> the stored row of its SEP, and a
    note naming the SEP it was filed under. SourceError when the years do not fit that SEP."""
    from bot import calendar
    from bot.errors import SourceError
    from bot.sources.fred import sep_frame, sep_release, sep_span_fits

    years = sorted({stamp.year for stamp in by_year.index})
    if released is None:
        release = sep_release(years, now)
        note = (f"  note: FRED's FEDTARMD does not say which SEP it is: filed under the SEP of {release}, the last "
                f"published before now that projects {years[0]}–{years[-1]}; if the file is older, import it "
                f"again with --released YYYY-MM-DD --replace (YYYY-MM-DD: the SEP meeting's decision day)")
    else:
        if released not in calendar.sep_meetings():
            raise SourceError("csv", f"--released {released} is not an FOMC meeting with projections "
                              "(the scheduled March, June, September and December meetings)")
        if not sep_span_fits(released, years):
            raise SourceError("csv", f"the SEP of {released} does not project the file's years {years[0]}–{years[-1]}")
        release = released
        note = f"  note: filed under the SEP of {release}"
    return sep_frame(by_year, release), note


def _import_zq_daily(path: Path, data: bytes, history) -> int:  # type: ignore[no-untyped-def]
    """Every trade date of a ZQ daily-contracts CSV as a strip, in one write; then the odds series."""
    from bot.market import record_odds
    from bot.sources.zq_daily import parse_zq_daily

    parsed = parse_zq_daily(data, origin=path.name)
    stored = history.strips(first=parsed.first, last=parsed.last)
    replaced = [s.trade_date for s in parsed.strips if s.trade_date in stored and stored[s.trade_date].settles != s.settles]
    history.put_strips(parsed.strips)
    record_odds(history, replaced)  # and the new trade dates: they have no odds yet
    print(f"Imported {len(parsed.strips):,} ZQ strips from {path.name}: trade dates {parsed.first} .. {parsed.last}, "
          f"{parsed.contracts} contract months, {parsed.rows:,} rows"
          + (f"; {len(replaced)} stored trade dates replaced" if replaced else ""))
    if parsed.dropped_after_expiry:
        print(f"  note: {parsed.dropped_after_expiry} rows dated after their contract's month were left out")
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
    from bot.series import series_info, series_key
    from bot.store.factory import make_history

    settings = _settings()
    history = make_history(data_dir=settings.data_dir, redis_url=settings.redis_url)
    try:
        name = series_info(args.series).name
    except KeyError:
        name = series_key(args.series)  # a stored series the catalogue does not list (CUTPROB_NEXT)
    frame = history.load(name)
    if frame is None or frame.empty:
        stored = " ".join(history.names()) or "none"
        print(f"capgap export: no stored history of {args.series!r}. Stored: {stored}", file=sys.stderr)
        return 1
    text = export_csv(frame)
    if args.file is None:
        sys.stdout.write(text)  # `capgap export RUT | head`: main() ends quietly on the closed pipe
        sys.stdout.flush()
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
    from bot.app import run_bot
    from bot.logsetup import setup_logging

    secrets = [settings.telegram_token.get_secret_value()]
    if settings.webhook_secret:
        secrets.append(settings.webhook_secret.get_secret_value())
    setup_logging(settings.log_level, secrets)
    services = _services(settings, asof=None, with_store=True)
    return run_bot(settings, services, webhook_url=args.webhook)


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (`capgap ask ... | head -1`): end quietly, as other commands in a pipe do.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a command cut off by a pipe


def _main(argv: list[str] | None) -> int:
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
        return asyncio.run(_ask(argparse.Namespace(command="backtest", text=text, lang=args.lang, as_of=args.as_of,
                                                   chart_out=None)))
    if args.command == "health":
        return _health()
    return 2


if __name__ == "__main__":
    sys.exit(main())
