"""HTTP plumbing every source module shares: browser-like headers, timeouts, retries, error mapping.

``get()`` is the one way a source talks to the network. It retries with exponential backoff only where a
second try can help (5xx, timeouts), and turns every other failure into a ``SourceError`` that names
the provider and says what went wrong:

- 2xx (and any status the caller lists in ``allow_status``) -> the response;
- 429 -> ``SourceError(retryable=True, retry_after=<seconds from Retry-After>)``, not retried here: the
  caller's schedule decides when to come back;
- 5xx and timeouts -> retried ``RetryPolicy.attempts`` times, then ``SourceError(retryable=True)``;
- other 4xx, 3xx (a redirect the client did not follow: a consent or login page) and connection
  errors -> ``SourceError(retryable=False)``.

Fault texts show the host and path only, never the query string, so crumbs and API keys stay out of
logs and ops notes.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from bot.errors import SourceError

# Yahoo, CME and Stooq answer scripted user agents with 403s or bot-check pages; a current desktop
# browser string is what their own web pages send.
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
BROWSER_HEADERS: Mapping[str, str] = {
    "User-Agent": USER_AGENT,
    "Accept": "*/*",
    "Accept-Language": "en-US,en;q=0.9",
}
# Seconds. Connect fails fast; a full FRED or Stooq history (40k rows) can take a while to stream.
DEFAULT_TIMEOUT = httpx.Timeout(20.0, connect=5.0)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently ``get()`` retries 5xx answers and timeouts.

    ``attempts`` counts the first try; the wait before try n+1 is ``backoff * 2**(n-1)`` seconds,
    capped at ``max_backoff``.
    """

    attempts: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        return float(min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))


DEFAULT_RETRY = RetryPolicy()


def new_client(**kwargs: Any) -> httpx.AsyncClient:
    """An ``AsyncClient`` with capgap's headers and timeouts (the app builds one and shares it)."""
    options: dict[str, Any] = {"headers": dict(BROWSER_HEADERS), "timeout": DEFAULT_TIMEOUT}
    options.update(kwargs)
    return httpx.AsyncClient(**options)


def describe_url(url: httpx.URL | str) -> str:
    """``host/path`` of ``url``: enough to find the endpoint, without query secrets."""
    u = httpx.URL(str(url))
    return f"{u.host}{u.path}"


def parse_retry_after(value: str | None, date_header: str | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date).

    An HTTP date is measured against the response's own ``Date`` header, so no clock is read; without
    one the date form yields None.
    """
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    if not date_header:
        return None
    try:
        until = parsedate_to_datetime(text)
        sent = parsedate_to_datetime(date_header)
    except (TypeError, ValueError):
        return None
    if until.tzinfo is None or sent.tzinfo is None:
        return None
    return max(0.0, (until - sent).total_seconds())


async def get(
    client: httpx.AsyncClient,
    url: str,
    *,
    source: str,
    params: Mapping[str, str | int | float] | None = None,
    headers: Mapping[str, str] | None = None,
    allow_status: Collection[int] = (),
    retry: RetryPolicy = DEFAULT_RETRY,
    sleep: Sleep = asyncio.sleep,
    request_timeout: httpx.Timeout | float | None = None,
) -> httpx.Response:
    """GET ``url`` for provider ``source``; the response, or a SourceError saying what went wrong.

    ``allow_status`` lists non-2xx statuses the caller parses itself (Yahoo's JSON error objects come
    with a 404). ``sleep`` is injected so tests do not wait out the backoff.
    """
    merged = {**BROWSER_HEADERS, **(headers or {})}
    where = describe_url(url)
    attempts = max(1, retry.attempts)
    last_fault = ""
    for attempt in range(1, attempts + 1):
        try:
            response = await client.get(
                url,
                params=dict(params) if params else None,
                headers=merged,
                timeout=request_timeout if request_timeout is not None else DEFAULT_TIMEOUT,
            )
        except httpx.TimeoutException as exc:
            last_fault = f"timed out ({type(exc).__name__}) requesting {where}"
        except httpx.HTTPError as exc:
            raise SourceError(
                source, f"network error requesting {where}: {type(exc).__name__}: {exc}"
            ) from exc
        else:
            status = response.status_code
            if 200 <= status < 300 or status in allow_status:
                return response
            if status == 429:
                wait = parse_retry_after(response.headers.get("retry-after"), response.headers.get("date"))
                hint = f", retry after {wait:g} s" if wait is not None else ""
                raise SourceError(
                    source,
                    f"rate limited (HTTP 429 Too Many Requests) by {where}{hint}",
                    retryable=True,
                    retry_after=wait,
                )
            if status >= 500:
                last_fault = f"HTTP {status} {response.reason_phrase} from {where}"
            elif 300 <= status < 400:
                target = response.headers.get("location", "?")
                raise SourceError(source, f"HTTP {status} redirect from {where} to {describe_url(target)}")
            else:
                raise SourceError(source, f"HTTP {status} {response.reason_phrase} from {where}")
        if attempt < attempts:
            await sleep(retry.delay(attempt))
    raise SourceError(source, f"{last_fault} (gave up after {attempts} attempts)", retryable=True)


_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def looks_like_html(body: bytes | str) -> bool:
    """True when ``body`` is an HTML page (an error, consent or bot-check page) rather than data."""
    head = (body[:512].encode() if isinstance(body, str) else body[:512]).lstrip().lower()
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml", b"<script", b"<div"))


def html_title(body: bytes | str) -> str:
    """The ``<title>`` of an HTML page, trimmed, or '' (to say which page came back)."""
    raw = body.encode() if isinstance(body, str) else body
    match = _TITLE.search(raw[:65536])
    if not match:
        return ""
    return " ".join(match.group(1).decode("utf-8", "replace").split())[:80]


def html_fault(body: bytes | str, expected: str, where: str) -> str:
    """The fault text for an HTML page that came back instead of ``expected`` data."""
    title = html_title(body)
    return f"{where} sent an HTML page instead of {expected}" + (f" (title: {title!r})" if title else "")


def csv_body(text: str, *, source: str, what: str, origin: str, html_hint: str = "") -> str:
    """A CSV answer's text without its byte-order mark; SourceError for an empty body or an HTML page
    (``html_hint`` adds what such a page usually means for this source)."""
    body = text.lstrip("\ufeff")
    if not body.strip():
        raise SourceError(source, f"{origin} sent an empty body instead of CSV for {what}")
    if looks_like_html(body):
        raise SourceError(source, html_fault(body, f"CSV for {what}", origin) + html_hint)
    return body


def decode_json(raw: bytes | str, *, source: str, where: str) -> Any:
    """Parse a JSON body, or raise SourceError calling it HTML, empty, truncated or invalid."""
    if isinstance(raw, bytes | bytearray):
        if looks_like_html(raw):
            raise SourceError(source, html_fault(raw, "JSON", where))
        try:
            text = bytes(raw).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SourceError(source, f"{where} sent a body that is not UTF-8 JSON ({exc.reason})") from exc
    else:
        text = raw
        if looks_like_html(text):
            raise SourceError(source, html_fault(text, "JSON", where))
    if not text.strip():
        raise SourceError(source, f"{where} sent an empty body instead of JSON")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        # A body cut off mid-transfer fails at its very end, or inside a string that never closes.
        cut = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        kind = "truncated" if cut else "invalid"
        raise SourceError(
            source, f"{where} sent {kind} JSON ({exc.msg}: character {exc.pos} of {len(text)})"
        ) from exc


class HttpSource:
    """What every HTTP source holds: the shared client, its retry policy, an injectable sleep and, for a
    source with one endpoint, its URL (``url``, by default the class's ``default_url``; tests point it
    at a local server)."""

    vendor: str  # the provider SourceErrors name ("yahoo", "fred", ...)
    default_url: str = ""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Sleep = asyncio.sleep,
        url: str | None = None,
    ) -> None:
        self._client = client
        self._retry = retry
        self._sleep = sleep
        self._url = self.default_url if url is None else url

    async def _get(self, url: str, **kwargs: Any) -> httpx.Response:
        """``get`` with this source's client, vendor, retry policy and sleep."""
        return await get(
            self._client, url, source=self.vendor, retry=self._retry, sleep=self._sleep, **kwargs
        )
