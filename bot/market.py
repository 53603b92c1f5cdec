"""Market: the latest snapshot of every stored series plus its freshness, and the single-flight refresh.

Readers (commands, jobs) take ``market.snapshot`` (or ``market.at(asof)`` for a past close) and never
wait on the network. ``refresh()`` fetches what is missing from each series' sources in priority order,
upserts it into history, and swaps in a new snapshot; concurrent callers share one refresh.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from bot import calendar
from bot.clock import Clock
from bot.errors import NoDataError, SourceError
from bot.history import STRIPS, HistoryCorrupt, HistoryStore, SeriesMeta, truncate
from bot.series import SERIES, SeriesInfo, stale_after
from bot.sources.base import Fetched, Source, Strip

log = logging.getLogger(__name__)

# Sessions re-fetched before the last stored bar, so vendor revisions of recent closes are caught.
OVERLAP_SESSIONS = 5
STRIP_SOURCES = ("cme", "yahoo")
# The daily history of FedWatch odds for the next meeting (cut probability, a fraction).
CUT_ODDS_SERIES = "CUTPROB_NEXT"
# The strips a snapshot holds: the days before its last strip that /fedodds compares with (the previous
# session, a week and a month earlier, each with bot/metrics/odds.py's slack of a few days), with a margin.
RECENT_STRIPS = timedelta(days=40)
# After a vendor answers 429, no request to it for at least this long.
RATE_LIMIT_PAUSE_S = 600.0
# Refreshed every few minutes while NYSE trades, for the intraday views (jobs/schedule.py).
INTRADAY_SERIES = ("RUT", "NDX", "SPX", "SP600")
# An intraday quote older than this is not shown: the bot says nothing rather than an old "live" price.
LIVE_MAX_AGE = timedelta(minutes=20)


StripReader = Callable[[date | None, date, date | None], Mapping[date, Strip]]
"""Stored strips dated first (None: from the first) to last that reach a contract month (None: any)."""


@dataclass(frozen=True)
class LiveQuote:
    """The last price of a session still trading: never stored as a close, never fed to alerts."""

    name: str
    session: date
    price: float
    source: str
    fetched_at: datetime


@dataclass(frozen=True)
class SeriesStatus:
    name: str
    source: str
    last_date: date | None
    fetched_at: datetime | None
    stale: bool
    last_error: str | None = None
    # For a stale target range: the FOMC decision its last value predates (the reply names it).
    stale_decision: date | None = None
    first_date: date | None = None  # the first date history holds (before the as-of cut)


@dataclass
class RefreshReport:
    """What one refresh pass did, for its log lines and `capgap refresh`: per series the source that
    answered and the rows it brought, or what every source said."""

    fetched: dict[str, str] = field(default_factory=dict)  # series -> source that answered
    rows: dict[str, int] = field(default_factory=dict)  # series -> rows stored (new or revised)
    failed: dict[str, str] = field(default_factory=dict)  # series -> every source's fault, joined
    # source -> series it failed for -> fault: one log line per failing source, not one per request
    faults: dict[str, dict[str, str]] = field(default_factory=dict)

    def fault(self, source: str, series: str, message: str) -> None:
        self.faults.setdefault(source, {})[series] = message

    def log(self, logger: logging.Logger) -> None:
        by_source: dict[str, list[str]] = {}
        for name, source in self.fetched.items():
            by_source.setdefault(source, []).append(f"{name} +{self.rows.get(name, 0)}")
        fetched = "; ".join(f"{source}: {', '.join(names)}" for source, names in sorted(by_source.items()))
        failed = ", ".join(sorted(self.failed))
        logger.info("refresh pass: fetched %s; failed: %s", fetched or "nothing", failed or "none")
        for source, faults in sorted(self.faults.items()):
            # One line per source: the same fault for many series (a vendor down) is said once.
            messages: dict[str, list[str]] = {}
            for name, message in faults.items():
                messages.setdefault(_strip_source(source, message), []).append(name)
            said = "; ".join(f"{', '.join(sorted(names))}: {message}" for message, names in messages.items())
            logger.warning("refresh pass: %s failed for %s", source, said)


def _strip_source(source: str, message: str) -> str:
    prefix = f"{source}: "
    return message[len(prefix):] if message.startswith(prefix) else message


@dataclass(frozen=True)
class Snapshot:
    """Everything a command may read, as of one exchange date."""

    asof: date  # the session whose close the snapshot describes
    built_at: datetime
    frames: Mapping[str, pd.DataFrame]
    status: Mapping[str, SeriesStatus]
    # The strips of the RECENT_STRIPS days up to the last one on or before ``asof``: what /fedodds, /status
    # and the digest read. Older ones stay in history: ``strips_between`` reads them when a reply needs them.
    strips: Mapping[date, Strip] = field(default_factory=dict)
    # Intraday quotes of the session trading after ``asof`` (only fresh ones; empty outside sessions).
    live: Mapping[str, LiveQuote] = field(default_factory=dict)
    # Results computed from this snapshot (replies, metrics): valid as long as the snapshot is.
    memo: dict[object, object] = field(default_factory=dict, compare=False, repr=False)
    # Reads stored strips (first, last, reaching) at this snapshot's revision; None: ``strips`` is all there is.
    read_strips: StripReader | None = field(default=None, compare=False, repr=False)

    def has(self, name: str) -> bool:
        frame = self.frames.get(name)
        return frame is not None and not frame.empty

    def frame(self, name: str) -> pd.DataFrame:
        frame = self.frames.get(name)
        if frame is None or frame.empty:
            raise NoDataError(what=SERIES[name].label if name in SERIES else name)
        return frame

    def close(self, name: str) -> pd.Series:
        """Daily closes of a bar series (or the values of a scalar series)."""
        frame = self.frame(name)
        column = "close" if "close" in frame.columns else "value"
        return frame[column]

    def stale(self, names: Iterable[str]) -> list[SeriesStatus]:
        return [self.status[n] for n in names if n in self.status and self.status[n].stale]

    def strips_between(self, first: date | None, last: date, *, reaching: date | None = None) -> Mapping[date, Strip]:
        """The stored strips dated ``first`` (None: the first stored) to ``last``, never after ``asof``; with
        ``reaching`` only those that price that contract month or a later one. Read from history: a
        reply that needs years of strips (/fedodds YYYY-MM history) reads just those."""
        last = min(last, self.asof)
        if self.read_strips is not None:
            return self.read_strips(first, last, reaching)
        return {
            d: s for d, s in self.strips.items()
            if (first is None or first <= d) and d <= last and (reaching is None or max(s.settles, default=d) >= reaching)
        }

    def latest_strip(self) -> Strip | None:
        eligible = [d for d in self.strips if d <= self.asof]
        return self.strips[max(eligible)] if eligible else None


class LazyFrames(Mapping[str, pd.DataFrame]):
    """A snapshot's frames by series name: those ``ready``, and the others read on first use by their
    loader in ``later`` (then kept)."""

    def __init__(self, ready: dict[str, pd.DataFrame], later: Mapping[str, Callable[[], pd.DataFrame]]) -> None:
        self._ready = ready
        self._later = dict(later)
        self._names = sorted(ready.keys() | later.keys())

    def __getitem__(self, name: str) -> pd.DataFrame:
        frame = self._ready.get(name)
        if frame is None:
            frame = self._ready[name] = self._later[name]()  # KeyError: no such series
        return frame

    def __contains__(self, name: object) -> bool:
        return name in self._ready or name in self._later

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def _session_on_or_before(day: date) -> date:
    return day if calendar.is_session(day) else calendar.previous_session(day)


def _strip_stale(last_strip: date | None, asof: date) -> tuple[bool, date | None]:
    """A strip must be of the session the reply describes; one older than an FOMC decision announced
    since is stale for that reason too (its odds include a meeting already decided)."""
    if last_strip is None:
        return True, None
    decided = [d for d in calendar.meetings_between(last_strip, asof) if last_strip < d <= asof]
    return last_strip < _session_on_or_before(asof), (decided[-1] if decided else None)


class Market:
    def __init__(
        self,
        history: HistoryStore,
        clock: Clock,
        sources: Mapping[str, Source] | None = None,
        *,
        fixed_asof: date | None = None,
    ) -> None:
        self.history = history
        self.clock = clock
        self.sources = dict(sources or {})
        self.fixed_asof = fixed_asof  # `capgap ask --as-of`: answer as of that close
        self._errors: dict[str, str] = {}
        self._used: dict[str, str] = {}
        self._fetched: dict[str, datetime] = {}
        self._cooldown: dict[str, datetime] = {}  # source -> no requests before (after a 429)
        self._live: dict[str, LiveQuote] = {}
        self._refreshing: asyncio.Task[Snapshot] | None = None
        self._snapshot: Snapshot | None = None
        self._revisions: dict[str, str] = {}  # history's revisions when the snapshot was built
        self.last_report: RefreshReport | None = None

    # reading ---------------------------------------------------------------------------------------
    @property
    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            self._snapshot = self.reload()
        return self._snapshot

    def _asof(self, now: datetime) -> date:
        if self.fixed_asof is not None:
            return self.fixed_asof
        return calendar.last_completed_session(now)

    def reload(self, *, eager: bool = True) -> Snapshot:
        """Build a snapshot from what history holds now (no network). Series whose revision is the one
        already loaded come from memory; only those another writer changed are read again.

        ``eager=False`` (a refresh in a process that has built no snapshot yet, ``capgap refresh``): the
        freshness of each series comes from its stored record, and a frame not already in memory is read
        when something first uses it, not before."""
        now = self.clock.now()
        asof = self._asof(now)
        revisions = self.history.revision()
        frames: dict[str, pd.DataFrame] = {}
        later: dict[str, Callable[[], pd.DataFrame]] = {}
        status: dict[str, SeriesStatus] = {}
        names = sorted(n for n in revisions if n != STRIPS)
        metas = {} if eager else self.history.metas([n for n in names if self.history.held(n, revisions[n]) is None])
        for name in names:
            rev = revisions[name]
            try:
                got = self.history.series(name, rev) if eager or name not in metas else None
                if got is None and name in metas:
                    meta = metas[name]
                    if meta.last is None or meta.last <= asof:
                        later[name] = functools.partial(self._frame_of, name, rev, asof)
                        status[name] = self._status(name, meta.last, meta, asof)
                        continue
                    got = self.history.series(name, rev)  # stored past ``asof``: its last date there is in the rows
            except HistoryCorrupt as exc:
                # One damaged series must not take every command down: that series is unavailable
                # (and /status says why) until a refresh or import writes it again.
                log.error("%s", exc)
                status[name] = SeriesStatus(name, "none", None, None, stale=True, last_error=str(exc))
                continue
            if got is None:
                continue
            frame, meta = got
            frame = truncate(frame, asof)
            frames[name] = frame
            status[name] = self._status(name, frame.index[-1].date() if len(frame) else None, meta, asof)
        strip_rev = revisions.get(STRIPS)
        try:
            strips, first_strip = self._recent_strips(asof, strip_rev)
        except (HistoryCorrupt, ValueError, KeyError) as exc:
            log.error("ZQ strips unreadable: %s", exc)
            strips, first_strip = {}, None
            self._errors[STRIPS] = str(exc)
        if strips or STRIPS in self._errors:
            status[STRIPS] = self._strip_status(strips, asof, first_strip)
        for name, error in self._errors.items():
            if name not in status:  # a series that has never been fetched successfully
                status[name] = SeriesStatus(name, "none", None, None, stale=True, last_error=error)
        snap = Snapshot(asof=asof, built_at=now, frames=LazyFrames(frames, later) if later else frames, status=status,
                        strips=strips, live=self._current_live(asof, now), read_strips=self._strip_reader(strip_rev))
        self._snapshot = snap
        self._revisions = revisions
        return snap

    def _frame_of(self, name: str, rev: str, asof: date) -> pd.DataFrame:
        """The frame of ``name`` for a snapshot that did not read it when it was built (``reload(eager=False)``):
        the series as stored now, up to ``asof``; empty when it is gone or unreadable (logged)."""
        try:
            got = self.history.series(name, rev)
        except HistoryCorrupt as exc:
            log.error("%s", exc)
            got = None
        if got is None:
            return pd.DataFrame(index=pd.DatetimeIndex([], name="date"))
        return truncate(got[0], asof)

    def _recent_strips(self, asof: date, rev: str | None) -> tuple[dict[date, Strip], date | None]:
        """The strips of the RECENT_STRIPS days up to the last one on or before ``asof``, and the first
        stored trade date: a few small reads, not every strip of 30 years."""
        span = self.history.strip_span(rev) if rev is not None else None
        if span is None or span[0] > asof:
            return {}, None
        latest = span[1]
        if latest > asof:  # an earlier close (--as-of): its last strip, looked for near it first
            near = self.history.strip_dates(first=asof - RECENT_STRIPS, last=asof) or self.history.strip_dates(last=asof)
            latest = near[-1]
        return self.history.strips(rev, first=latest - RECENT_STRIPS, last=latest), span[0]

    def _strip_reader(self, rev: str | None) -> StripReader | None:
        if rev is None:
            return None
        history = self.history

        def read(first: date | None, last: date, reaching: date | None) -> Mapping[date, Strip]:
            return history.strips(rev, first=first, last=last, reaching=reaching)

        return read

    def reload_if_changed(self) -> bool:
        """Rebuild the snapshot when history changed since it was built (another process imported or
        refreshed: one cheap read of the revisions tells) or the session it describes has passed.
        True when it rebuilt. Called every few seconds; nothing changed costs one small read."""
        if self._snapshot is not None and self.history.revision() == self._revisions:
            if self.fixed_asof is not None or self._snapshot.asof == self._asof(self.clock.now()):
                return False
        self.reload()
        return True

    def _current_live(self, asof: date, now: datetime) -> dict[str, LiveQuote]:
        """Quotes of the session in progress, fetched within LIVE_MAX_AGE; none for a past as-of."""
        if self.fixed_asof is not None:
            return {}
        session = calendar.session_in_progress(now)
        return {
            name: quote
            for name, quote in self._live.items()
            if quote.session == session and quote.session > asof and now - quote.fetched_at <= LIVE_MAX_AGE
        }

    def _strip_status(self, strips: Mapping[date, Strip], asof: date, first: date | None) -> SeriesStatus:
        last_strip = max(strips) if strips else None
        stale, decision = _strip_stale(last_strip, asof)
        return SeriesStatus(
            name=STRIPS,
            source=(strips[last_strip].source if last_strip else None) or self._used.get(STRIPS) or "cme",
            last_date=last_strip,
            fetched_at=self._fetched.get(STRIPS),
            stale=stale,
            last_error=self._errors.get(STRIPS),
            stale_decision=decision,
            first_date=first if strips else None,
        )

    def _status(self, name: str, last: date | None, meta: SeriesMeta | None, asof: date) -> SeriesStatus:
        """Freshness of one series whose last date up to ``asof`` is ``last``, for a reply about the close
        of ``asof`` (live: the last completed session; `--as-of`: the session it names), by the series'
        policy in bot/series.py."""
        info = SERIES.get(name) or SeriesInfo(name, "scalar", name, (), market=False, staleness="age")
        stale, decision = stale_after(info, last, asof)
        return SeriesStatus(
            name=name,
            source=self._used.get(name) or (meta.source if meta else "unknown"),
            last_date=last,
            fetched_at=self._fetched.get(name) or (meta.fetched_at if meta else None),
            stale=bool(stale),
            last_error=self._errors.get(name),
            stale_decision=decision,
            first_date=meta.first if meta else None,
        )

    # refreshing ------------------------------------------------------------------------------------
    async def refresh(self, names: Iterable[str] | None = None, *, progress: object = None) -> Snapshot:
        """Fetch what is missing and rebuild the snapshot; concurrent calls share one run."""
        if self._refreshing is not None and not self._refreshing.done():
            return await asyncio.shield(self._refreshing)
        self._refreshing = asyncio.ensure_future(self._refresh(list(names) if names else None, progress))
        try:
            return await asyncio.shield(self._refreshing)
        finally:
            if self._refreshing is not None and self._refreshing.done():
                self._refreshing = None

    async def _refresh(self, names: list[str] | None, progress: object) -> Snapshot:
        now = self.clock.now()
        report = RefreshReport()
        wanted = [SERIES[n] for n in (names or SERIES) if n in SERIES and SERIES[n].sources]
        # Where each series ends, in one read. A series another process extends meanwhile is fetched from
        # a little earlier than it needs: the overlap is merged like any other.
        stored = self.history.metas([info.name for info in wanted])
        for info in wanted:
            meta = stored.get(info.name)
            await self._refresh_one(info, now, report, meta.last if meta else None)
            if callable(progress):
                progress(info.name)
        if names is None or STRIPS in names:
            await self._refresh_strip(now, report)
            if callable(progress):
                progress(STRIPS)
        self.last_report = report
        report.log(log)
        # A process that has built no snapshot (`capgap refresh`, just started) reads no frame it does not use.
        return await asyncio.to_thread(self.reload, eager=self._snapshot is not None)

    async def _refresh_strip(self, now: datetime, report: RefreshReport) -> None:
        """The ZQ strip of the last settled day: CME first, Yahoo's contract closes as the fallback."""
        errors: list[str] = []
        for source_name in STRIP_SOURCES:
            source = self.sources.get(source_name)
            fetch_strip = getattr(source, "fetch_strip", None)
            if fetch_strip is None:
                continue
            try:
                strip = await fetch_strip(None, now=now)
            except Exception as exc:
                message = self._fault(source_name, STRIPS, exc)
                errors.append(message)
                report.fault(source_name, STRIPS, message)
                continue
            self.history.put_strip(strip)
            record_odds(self.history, [strip.trade_date])
            self._errors.pop(STRIPS, None)
            self._used[STRIPS] = source_name
            self._fetched[STRIPS] = now
            report.fetched[STRIPS] = source_name
            report.rows[STRIPS] = len(strip.settles)
            return
        if errors:
            self._errors[STRIPS] = "; ".join(errors)
            report.failed[STRIPS] = self._errors[STRIPS]

    @staticmethod
    def _fault(source_name: str, series: str, exc: Exception) -> str:
        """A source's failure as one line. A SourceError says what went wrong; anything else is a bug in
        a parser: its traceback is logged at debug level, the pass goes on with the other series."""
        if isinstance(exc, SourceError):
            return str(exc)
        log.debug("refresh %s via %s raised", series, source_name, exc_info=exc)
        return f"{source_name}: unexpected {type(exc).__name__}: {exc}"

    async def _refresh_one(self, info: SeriesInfo, now: datetime, report: RefreshReport, last: date | None) -> None:
        start = None
        if last is not None:
            start = last - timedelta(days=OVERLAP_SESSIONS * 7 // 5 + 2)
        errors: list[str] = []
        for source_name in info.sources:
            source = self.sources.get(source_name)
            if source is None or not source.covers(info.name):
                continue
            until = self._cooldown.get(source_name)
            if until is not None and now < until:
                errors.append(f"{source_name}: rate-limited until {until:%H:%M} UTC")
                continue
            try:
                fetched = await source.fetch(info.name, start=start, end=None, now=now)
                stored = self._store(info, fetched)
            except Exception as exc:  # a bug in a parser must not stop the other series either
                if isinstance(exc, SourceError) and (exc.retry_after is not None or "429" in exc.fault):
                    # The vendor asked us to slow down: leave it alone for a while (all series).
                    pause = max(exc.retry_after or 0.0, RATE_LIMIT_PAUSE_S)
                    self._cooldown[source_name] = now + timedelta(seconds=pause)
                message = self._fault(source_name, info.name, exc)
                errors.append(message)
                report.fault(source_name, info.name, message)
                continue
            self._errors.pop(info.name, None)
            self._used[info.name] = source_name
            self._fetched[info.name] = fetched.fetched_at
            report.fetched[info.name] = source_name
            report.rows[info.name] = stored
            return
        if errors:
            self._errors[info.name] = "; ".join(errors)
            report.failed[info.name] = self._errors[info.name]

    def _store(self, info: SeriesInfo, fetched: Fetched) -> int:
        """Upsert the fetched closes; the rows stored (new or revised)."""
        frame = fetched.frame
        if fetched.partial_last and len(frame):
            # An intraday snapshot is not a close: never store it as one; keep it as a live quote.
            column = "close" if "close" in frame.columns else "value"
            self._live[info.name] = LiveQuote(
                info.name, frame.index[-1].date(), float(frame[column].iloc[-1]), fetched.source, fetched.fetched_at
            )
            frame = frame.iloc[:-1]
        else:
            self._live.pop(info.name, None)
        if frame.empty:
            return 0
        result = self.history.upsert(info.name, frame, source=fetched.source, fetched_at=fetched.fetched_at)
        return int(result.added + result.revised)

    async def refresh_intraday(self) -> Snapshot:
        """The last prices of the index series while NYSE trades (the incremental fetch is a few bars)."""
        return await self.refresh(INTRADAY_SERIES)

    def at(self, asof: date) -> Snapshot:
        """A snapshot truncated to ``asof`` (for `--as-of` and backtests)."""
        base = self.snapshot
        frames = {n: truncate(f, asof) for n, f in base.frames.items()}
        strips: Mapping[date, Strip] = {d: s for d, s in base.strips.items() if d <= asof}
        first_strip = base.status[STRIPS].first_date if STRIPS in base.status else None
        if asof < base.asof and base.read_strips is not None:  # the strips of that earlier day, as reload reads them
            strips, first_strip = self._recent_strips(asof, self._revisions.get(STRIPS))
        # Freshness is judged again for the earlier close: a series complete today may not have been then.
        status = dict(base.status)
        for name, frame in frames.items():
            old = base.status.get(name)
            if old is not None and asof != base.asof:
                last = frame.index[-1].date() if len(frame) else None
                info = SERIES.get(name) or SeriesInfo(name, "scalar", name, (), market=False, staleness="age")
                stale, decision = stale_after(info, last, asof)
                status[name] = replace(old, last_date=last, stale=stale, stale_decision=decision)
        if STRIPS in status:
            status[STRIPS] = replace(self._strip_status(strips, asof, first_strip), last_error=status[STRIPS].last_error)
        return replace(base, asof=asof, frames=frames, strips=strips, status=status, live={}, memo={})


def _bounds_on(target: pd.Series, days: pd.DatetimeIndex) -> np.ndarray:
    """The target's value in effect at the close of each of ``days`` (NaN before its first), as
    bot/metrics/odds.py lower_bound_on reads it for one day."""
    at = np.searchsorted(target.index.to_numpy(), days.to_numpy(), side="right") - 1
    return np.where(at >= 0, target.to_numpy()[np.maximum(at, 0)], np.nan)


def record_odds(history: HistoryStore, days: Iterable[date] = ()) -> int:
    """Keep the next meeting's cut probability per stored strip (CUTPROB_NEXT: ``value`` the cut, ``hold``,
    ``hike``, the first year end priced ahead and its implied rate ``ye_year``/``ye_rate``, and ``target``
    the range's lower bound it was priced from) in step with the strips and the
    target range, so odds changes can be shown and alerted on. Only the trade dates that need it are
    priced: those in ``days`` (strips just replaced), those after the last row (new strips), and rows
    priced from a target that has changed since (FRED published a decision after the strip was priced);
    every strip when the stored rows lack a column (written by an older capgap). Returns the rows stored."""
    from bot.metrics.odds import odds_history

    lower = history.load("DFEDTARL")
    if lower is None or lower.empty:
        return 0
    target = lower["value"]
    stored = history.load(CUT_ODDS_SERIES)
    if stored is None or stored.empty or not {"target", "ye_rate"} <= set(stored.columns):
        todo = history.strip_dates()
    else:
        revised = stored.index[stored["target"].to_numpy() != _bounds_on(target, stored.index)]
        newer = history.strip_dates(first=stored.index[-1].date() + timedelta(days=1))
        todo = sorted({*revised.date, *newer, *days})
    if not todo:
        return 0
    bounds = dict(zip(todo, _bounds_on(target, pd.DatetimeIndex(todo)).tolist(), strict=True))
    strips = history.strips(first=todo[0], last=todo[-1])
    wanted = {d: strips[d] for d in todo if d in strips and bounds[d] == bounds[d]}  # x == x: not NaN
    odds = odds_history(wanted, target, calendar.fomc_meetings())
    if odds.empty:
        return 0
    frame = odds[["cut", "hold", "hike", "ye_year", "ye_rate"]].rename(columns={"cut": "value"})
    frame["target"] = [bounds[d] for d in frame.index.date]
    history.upsert(CUT_ODDS_SERIES, frame, source="cme", fetched_at=None)
    return len(frame)
