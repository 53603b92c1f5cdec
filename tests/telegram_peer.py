"""A Telegram Bot API peer for tests and benchmarks: one model of Telegram's behaviour, two transports.

- In process, for ordinary handler and app tests: ``TelegramPeer()`` and ``peer.request()``, a PTB
  ``BaseRequest`` handing each call to the peer (``peer.application_builder()`` wires one in).
- Over HTTP on 127.0.0.1, where the network edge matters (kill -9, SIGTERM, flood limits against PTB's
  HTTP client, a bot in another process): ``async with TelegramPeer() as peer`` (or ``await peer.start()`` …
  ``await peer.aclose()``) serves on the running loop; PTB points at ``peer.base_url``.

It models Bot API objects with the fields PTB's ``de_json`` needs, HTML parse mode after tdlib (its tags,
error texts and byte offsets; a bare ``&`` is refused, so a test proves user text was escaped), the text
and caption limits, flood limits (``limits=Limits(...)``: 429 with ``retry_after``, early retries counted)
and scripted faults per chat or for the next N calls. Test-side methods are thread-safe.
"""

from __future__ import annotations

import asyncio
import copy
import html
import itertools
import json
import math
import re
import struct
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

import tornado.httpserver
import tornado.netutil
import tornado.web
from telegram.error import TimedOut
from telegram.ext import ApplicationBuilder
from telegram.request import BaseRequest, RequestData

JSONDict = dict[str, Any]

DEFAULT_TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
"""A token of the real shape: bot id, colon, 35 characters."""
DEFAULT_USER_ID = 1001
"""Sender of injected group messages when no ``user_id`` is given."""
BOT_USERNAME = "capgap_test_bot"

_SUPERGROUP_ID_FLOOR = -1_000_000_000_000  # supergroup ids are -100 followed by the channel id
_MESSAGE_LIMIT = 4096
_CAPTION_LIMIT = 1024
_SEND_METHODS = frozenset({"sendMessage", "sendPhoto"})
"""Methods that create a message: the ones Telegram's flood limits count."""
_NOT_MODIFIED = ("message is not modified: specified new message content and reply markup are exactly the same as a current "
                 "content and reply markup of the message")


@dataclass(frozen=True)
class Limits:
    """Telegram's documented flood limits, counted over sliding windows of accepted messages.

    ``scale`` speeds the peer's clock up: with ``scale=10`` every window is a tenth as long. ``retry_after``
    stays an integer in peer seconds, as Telegram sends it, so a scaled client sleeps ``retry_after / scale``.
    """

    global_per_second: int = 30
    per_chat_per_second: int = 1
    per_group_per_minute: int = 20
    scale: float = 1.0


@dataclass(frozen=True)
class Fault:
    """A Bot API error: HTTP status, description, parameters; ``raw_body`` replaces the JSON with a text/html
    page (nginx's 502)."""

    status: int
    description: str
    parameters: Mapping[str, int] | None = None
    raw_body: str | None = None


_NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>"
    "</center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n"
)


def grey_png(width: int = 4, height: int = 3) -> bytes:
    """A real PNG of grey pixels (a chart for tests that send photos)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG, or None: capgap sends PNG charts only, so the peer decodes nothing else."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR" or len(data) < 24:
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


@dataclass(frozen=True, eq=False)
class SentCall:
    """One call the bot made (every method but getUpdates), as received and answered.

    ``text`` is the text or caption as sent (raw HTML); ``result`` the JSON result on success (for a send,
    the Message, whose ``text`` is the parsed plain text); ``time`` is ``time.monotonic()`` on arrival;
    ``photo`` the uploaded bytes.
    """

    method: str
    chat_id: int | str | None
    text: str | None
    parse_mode: str | None
    reply_markup: JSONDict | None
    photo: bytes | None
    time: float
    status: int
    description: str | None
    result: Any
    params: Mapping[str, Any] = field(repr=False)

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def message_id(self) -> int | None:
        """Id of the message this call created or edited, when it returned one."""
        if isinstance(self.result, dict) and "message_id" in self.result:
            return int(self.result["message_id"])
        return None


@dataclass(frozen=True)
class PeerStats:
    """Counters since the peer started: requests per method, responses per HTTP status, 429s."""

    requests: Mapping[str, int]
    statuses: Mapping[int, int]
    too_many_requests: int
    flood_violations: int
    """429s answered to a request made while an earlier ``retry_after`` was still running."""


class HtmlParseError(ValueError):
    """Telegram's reason for refusing a text in HTML parse mode (after "can't parse entities: ")."""


class _ApiError(Exception):
    def __init__(self, fault: Fault) -> None:
        super().__init__(fault.description)
        self.fault = fault


def _bad_request(what: str) -> _ApiError:
    return _ApiError(Fault(400, f"Bad Request: {what}"))


def _too_many(retry_after: int) -> Fault:
    return Fault(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})


def _take(table: dict[int, tuple[Any, int | None]], chat_id: int) -> Any:
    """A chat's scripted fault or delay for this call, counting down the times it has left."""
    if chat_id not in table:
        return None
    value, times = table[chat_id]
    if times is not None and times <= 1:
        del table[chat_id]
    elif times is not None:
        table[chat_id] = (value, times - 1)
    return value


# --------------------------------------------------------------------------------------------------
# HTML parse mode, after tdlib's parse_html (td/telegram/MessageEntity.cpp)

_ENTITY_TYPE_BY_TAG = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "tg-spoiler": "spoiler",
    "span": "spoiler", "blockquote": "blockquote", "code": "code", "pre": "pre", "a": "text_link",
}
_ARGUMENT_BY_TAG = {"a": "href", "span": "class"}
_TOKEN = re.compile(r"(?P<tag><(?P<end>/?)(?P<name>[^\s>]*)(?P<attrs>[^>]*)(?P<close>>?))"
                    r"|(?P<ref>&(?:#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]+)?;?)|[^<&]+")
_ATTRIBUTE = re.compile(r"([^\s=>]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9.-]*))")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: the unit of every Bot API entity offset and length."""
    return len(text.encode("utf-16-le")) // 2


def _reference(ref: str) -> str | None:
    """The character an HTML reference stands for: &lt; &gt; &amp; &quot; or a number (the ``;`` optional)."""
    body = ref[1:].removesuffix(";")
    if not body.startswith("#"):
        return {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}.get(body)
    code = int(body[2:], 16) if body.startswith("#x") else int(body[1:] or "0")
    return chr(code) if 0 < code < 0x10FFFF and not 0xD800 <= code <= 0xDFFF else None


def parse_html(text: str, *, strict_ampersand: bool = True) -> tuple[str, list[JSONDict]]:
    """Telegram-flavoured HTML to (plain text, MessageEntity dicts), or HtmlParseError with tdlib's
    wording and UTF-8 byte offsets. ``strict_ampersand`` refuses a bare ``&`` (Telegram keeps it)."""
    out: list[str] = []
    u16 = 0
    stack: list[tuple[str, str, int, int]] = []  # tag, argument, utf16 offset and index in out where it opened
    entities: list[JSONDict] = []
    for token in _TOKEN.finditer(text):
        at = f"at byte offset {len(text[: token.start()].encode('utf-8'))}"
        piece = token.group()
        if token["ref"] is not None:
            char = _reference(piece)
            if char is None and strict_ampersand:
                raise HtmlParseError(f'Unescaped "&" {at}; write &amp; (the peer\'s strict mode)')
            piece = piece if char is None else char
        elif token["tag"] is not None and token["end"]:
            if not stack:
                raise HtmlParseError(f"Unexpected end tag {at}")
            if not token["close"] or token["attrs"].strip():
                raise HtmlParseError(f"Unclosed end tag {at}")
            tag, argument, start, opened = stack.pop()
            name = token["name"].lower()
            if name and name != tag:
                raise HtmlParseError(f'Unmatched end tag {at}, expected "</{tag}>", found "</{name}>"')
            if u16 > start:
                entities.append({"type": _ENTITY_TYPE_BY_TAG[tag], "offset": start, "length": u16 - start})
                if tag == "a":
                    entities[-1]["url"] = argument or "".join(out[opened:])
            continue
        elif token["tag"] is not None:
            tag = token["name"].lower()
            if token.end("name") == len(text):
                raise HtmlParseError(f"Unclosed start tag {at}")
            if tag not in _ENTITY_TYPE_BY_TAG:
                raise HtmlParseError(f'Unsupported start tag "{tag}" {at}')
            if not token["close"]:
                raise HtmlParseError(f"Unclosed start tag {at}")
            attributes = {m[1]: html.unescape(m[2] or m[3] or m[4]) for m in _ATTRIBUTE.finditer(token["attrs"])}
            argument = attributes.get(_ARGUMENT_BY_TAG.get(tag, ""), "")
            if tag == "span" and argument != "tg-spoiler":
                raise HtmlParseError(f'Tag "span" must have class "tg-spoiler" {at}')
            stack.append((tag, argument, u16, len(out)))
            continue
        out.append(piece)
        u16 += utf16_len(piece)
    if stack:
        raise HtmlParseError(f"Can't find end tag corresponding to start tag {stack[-1][0]}")
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


# --------------------------------------------------------------------------------------------------
# Request parameters: both transports hand over strings (nested objects as JSON), as an HTTP form does

_INT_PARAMS = frozenset({"chat_id", "message_id", "offset", "limit", "timeout", "user_id", "reply_to_message_id"})
_JSON_PARAMS = frozenset({"reply_markup", "commands", "scope", "allowed_updates", "reply_parameters", "link_preview_options"})
_BOOL_PARAMS = frozenset({"show_alert", "drop_pending_updates", "disable_web_page_preview", "allow_sending_without_reply"})


def _coerce(name: str, value: Any) -> Any:
    """Give a form value the JSON type the Bot API documents."""
    if not isinstance(value, str):
        return value
    if name in _INT_PARAMS and re.fullmatch(r"-?\d+(\.\d*)?", value):
        return int(float(value))
    if name in _BOOL_PARAMS and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if name in _JSON_PARAMS:
        try:
            return json.loads(value)
        except ValueError as exc:
            what = "reply keyboard markup" if name == "reply_markup" else name
            raise _bad_request(f"can't parse {what} JSON object") from exc
    return value


def _int(values: Mapping[str, Any], name: str, missing: str | None = None) -> int | None:
    value = values.get(name)
    if value is None or value == "":
        if missing is not None:
            raise _bad_request(missing)
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad_request(f"invalid {name} specified")
    return value


class _Limiter:
    """Sliding-window counts of accepted messages, plus the bans Telegram keeps after a 429."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._sent: dict[object, deque[float]] = {}
        self._banned_until: dict[object, float] = {}

    def admit(self, chat_id: int, is_group: bool, now: float) -> tuple[int, bool] | None:
        """None if the message may go; else (retry_after in peer seconds, client ignored a ban)."""
        limits, scale = self.limits, self.limits.scale
        checks: list[tuple[object, int, float]] = [("global", limits.global_per_second, 1.0 / scale),
                                                   (("chat", chat_id), limits.per_chat_per_second, 1.0 / scale)]
        if is_group:
            checks.append((("group", chat_id), limits.per_group_per_minute, 60.0 / scale))
        for key, _, _ in checks:
            until = self._banned_until.get(key)
            if until is not None and now < until:
                return max(1, math.ceil((until - now) * scale)), True
        for key, capacity, window in checks:
            sent = self._sent.setdefault(key, deque())
            while sent and sent[0] <= now - window:
                sent.popleft()
            if len(sent) >= capacity:
                retry_after = max(1, math.ceil((sent[0] + window - now) * scale))
                self._banned_until[key] = now + retry_after / scale
                return retry_after, False
        for key, _, _ in checks:
            self._sent[key].append(now)
        return None


# --------------------------------------------------------------------------------------------------
# The peer: Telegram's behaviour, the test-side API, and the two transports


class TelegramPeer:
    """Telegram's side of the Bot API with a test-side API to inject updates and inspect what was sent.

    Args:
        token: the one token the peer accepts; any other gets 401 Unauthorized.
        limits: flood limits to enforce, or None (default) for none.
        strict_ampersand: refuse a bare ``&`` in HTML parse mode (see ``parse_html``).
        round_trip_s: a network round trip added to every call but getUpdates, half before the limits
            count the call and half before the answer is back.
    """

    def __init__(self, *, token: str | None = None, limits: Limits | None = None, strict_ampersand: bool = True,
                 round_trip_s: float = 0.0) -> None:
        self.token = token or DEFAULT_TOKEN
        self.bot_user = {"id": int(self.token.split(":", 1)[0]), "is_bot": True, "first_name": "capgap test",
                         "username": BOT_USERNAME}
        self.strict_ampersand = strict_ampersand
        self.round_trip_s = round_trip_s
        self._lock = threading.RLock()
        self._limiter = _Limiter(limits) if limits else None
        self._sent: list[SentCall] = []
        self._requests: Counter[str] = Counter()
        self._statuses: Counter[int] = Counter()
        self._too_many_requests = 0
        self._flood_violations = 0
        self._chats: dict[int, JSONDict] = {}
        self._users: dict[int, JSONDict] = {}
        self._next_message_id: Counter[int] = Counter()
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._admins: dict[int, tuple[int | None, frozenset[int]]] = {}
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._callback_queries: set[str] = set()
        self._files: dict[str, tuple[bytes, list[JSONDict]]] = {}  # file_id: bytes, the PhotoSizes
        self._counter = itertools.count(1)
        self._updates: list[JSONDict] = []
        self._next_update_id = 166770000
        self._poll_generation = 0
        self._webhook_url = ""
        self._chat_faults: dict[int, tuple[Fault, int | None]] = {}  # chat: the fault, times left (None: always)
        self._chat_delays: dict[int, tuple[float, int | None]] = {}  # chat: seconds, times left
        self._global_faults: list[tuple[Fault, frozenset[str] | None]] = []  # each entry is one failed call
        self._closing = False
        self._server: tornado.httpserver.HTTPServer | None = None
        self.port = 0
        self._methods: dict[str, Callable[[JSONDict], Any]] = {
            "getMe": lambda p: {**self.bot_user, "can_join_groups": True, "can_read_all_group_messages": False,
                                "supports_inline_queries": False},
            "deleteWebhook": self._webhook,
            "setWebhook": self._webhook,
            "setMyCommands": self._set_my_commands,
            "sendMessage": lambda p: self._new_bot_message(p, self._formatted(p, "text", _MESSAGE_LIMIT, "message is too long")),
            "sendPhoto": self._send_photo,
            "editMessageText": lambda p: self._edit(p, self._formatted(p, "text", _MESSAGE_LIMIT, "MESSAGE_TOO_LONG")),
            "editMessageReplyMarkup": lambda p: self._edit(  # an empty keyboard takes the buttons off
                p, {"reply_markup": p["reply_markup"]} if (p.get("reply_markup") or {}).get("inline_keyboard") else {}),
            "answerCallbackQuery": self._answer_callback_query,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
        }
        self._method_by_lower = {name.lower(): name for name in [*self._methods, "getUpdates"]}

    # ---- transports --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` while serving HTTP; an address never dialled in process."""
        return f"http://127.0.0.1:{self.port}" if self.port else "http://telegram-peer.invalid"

    @property
    def base_url(self) -> str:
        """What PTB's ``base_url`` takes: the token is appended to it."""
        return f"{self.url}/bot"

    @property
    def serving(self) -> bool:
        """Whether the peer listens on 127.0.0.1 (else it is reached through ``request()`` only)."""
        return self._server is not None

    def request(self) -> PeerRequest:
        """A PTB request object that hands calls to this peer in process (use one per Bot)."""
        return PeerRequest(self)

    def application_builder(self) -> ApplicationBuilder:
        """A PTB ``ApplicationBuilder`` with this peer's token: over HTTP while serving, else in process."""
        builder = ApplicationBuilder().token(self.token).base_url(self.base_url)
        return builder if self.serving else builder.request(self.request()).get_updates_request(self.request())

    async def start(self) -> None:
        """Serve the Bot API over HTTP on a free 127.0.0.1 port, on the running event loop."""
        if self._server is not None:
            raise RuntimeError("peer already started")
        app = tornado.web.Application([(r"/bot([^/]*)/([^/]*)", _HttpHandler, {"peer": self})], log_function=lambda h: None)
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        self._server = tornado.httpserver.HTTPServer(app, max_body_size=64 * 1024 * 1024, idle_connection_timeout=60)
        self._server.add_sockets(sockets)

    async def aclose(self) -> None:
        """Answer pending long polls, stop listening and close every connection."""
        self._closing = True
        if self._server is not None:
            await asyncio.sleep(0.05)  # long polls see _closing within their 10 ms tick and answer
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ---- test side: configuration ------------------------------------------------------------------

    def set_limits(self, limits: Limits | None) -> None:
        """Enforce ``limits`` from now on (fresh windows), or none."""
        with self._lock:
            self._limiter = _Limiter(limits) if limits else None

    def set_admins(self, chat_id: int, user_ids: Collection[int], *, creator_id: int | None = None) -> None:
        """Administrators of a group for getChatMember; ``creator_id`` owns it."""
        with self._lock:
            self._admins[chat_id] = (creator_id, frozenset(user_ids))

    def set_fault(self, chat_id: int, fault: Fault, times: int | None = None) -> None:
        """Answer the next ``times`` calls for ``chat_id`` (None: every call from now on) with ``fault``."""
        with self._lock:
            self._chat_faults[chat_id] = (fault, times)

    def block(self, chat_id: int) -> None:
        """The user of this private chat blocked the bot: 403 from now on."""
        self.set_fault(chat_id, Fault(403, "Forbidden: bot was blocked by the user"))

    def chat_not_found(self, chat_id: int) -> None:
        """400 "chat not found" for this chat from now on."""
        self.set_fault(chat_id, Fault(400, "Bad Request: chat not found"))

    def migrate(self, chat_id: int, new_chat_id: int) -> None:
        """The group became supergroup ``new_chat_id``: the old id answers 400 with migrate_to_chat_id."""
        with self._lock:
            title = self._chats.get(chat_id, {}).get("title") or f"Group {chat_id}"
            self._chats[new_chat_id] = {"id": new_chat_id, "type": "supergroup", "title": title}
            if chat_id in self._admins:
                self._admins[new_chat_id] = self._admins[chat_id]
        upgraded = "Bad Request: group chat was upgraded to a supergroup chat"
        self.set_fault(chat_id, Fault(400, upgraded, {"migrate_to_chat_id": new_chat_id}))

    def flood_once(self, chat_id: int, retry_after: int) -> None:
        """The next call for this chat gets 429 with ``retry_after`` seconds."""
        self.set_fault(chat_id, _too_many(retry_after), times=1)

    def server_error(self, chat_id: int, status: int = 500, *, times: int | None = 1) -> None:
        """The next ``times`` calls for this chat get a 5xx (a 502 as nginx's HTML page)."""
        fault = Fault(502, "Bad Gateway", raw_body=_NGINX_502) if status == 502 else Fault(status, "Internal Server Error")
        self.set_fault(chat_id, fault, times)

    def delay(self, chat_id: int, seconds: float, *, times: int | None = None) -> None:
        """Hold calls for this chat ``seconds`` before handling them. The call still takes effect when the
        client gave up waiting, as on Telegram, so a sender that retries after a timeout sends twice."""
        with self._lock:
            self._chat_delays[chat_id] = (seconds, times)

    def fail_next(self, n: int, status: int = 500, description: str = "Internal Server Error", *,
                  parameters: Mapping[str, int] | None = None, methods: Collection[str] | None = None) -> None:
        """The next ``n`` calls (to ``methods``; default every method but getUpdates) fail so."""
        with self._lock:
            chosen = frozenset(methods) if methods is not None else None
            self._global_faults += [(Fault(status, description, parameters), chosen)] * n

    # ---- test side: injecting updates --------------------------------------------------------------

    def inject_message(self, chat_id: int, text: str, *, user_id: int | None = None, chat_type: str = "private",
                       language_code: str | None = "en", username: str | None = None, first_name: str | None = None,
                       title: str | None = None) -> JSONDict:
        """Queue a user's text message as an Update and return it. A leading ``/word`` carries a bot_command
        entity. In a private chat the sender is the chat; in a group ``user_id`` defaults to DEFAULT_USER_ID."""
        if chat_type not in ("private", "group", "supergroup"):
            raise ValueError(f"chat_type must be private, group or supergroup, not {chat_type!r}")
        if chat_type == "private" and user_id not in (None, chat_id):
            raise ValueError("a private chat's id is its user's id")
        if chat_type != "private" and chat_id >= 0:
            raise ValueError("group and supergroup ids are negative")
        sender = chat_id if chat_type == "private" else (user_id if user_id is not None else DEFAULT_USER_ID)
        with self._lock:
            user = self._users.setdefault(sender, {"id": sender, "is_bot": False, "first_name": f"User {sender}"})
            user.update({k: v for k, v in (("first_name", first_name), ("username", username),
                                           ("language_code", language_code)) if v})
            chat = self._chats.setdefault(chat_id, {"id": chat_id, "type": chat_type})
            if chat_type == "private":
                chat.update({k: user[k] for k in ("first_name", "username") if k in user})
            else:
                chat.update(type=chat_type, title=title or chat.get("title") or f"Group {chat_id}")
            message: JSONDict = {"message_id": self._take_message_id(chat_id), "from": copy.deepcopy(user),
                                 "chat": copy.deepcopy(chat), "date": int(time.time()), "text": text}
            if text.startswith("/") and text.strip():
                message["entities"] = [{"offset": 0, "length": utf16_len(text.split()[0]), "type": "bot_command"}]
            self._messages[(chat_id, message["message_id"])] = message
            return self._queue_update({"message": message})

    def inject_callback(self, chat_id: int, message_id: int, data: str, *, user_id: int | None = None,
                        language_code: str = "en") -> JSONDict:
        """Queue a press on an inline button of the bot's message ``message_id``; returns the Update."""
        with self._lock:
            message = self._messages.get((chat_id, message_id))
            if message is None:
                raise ValueError(f"no message {message_id} in chat {chat_id}")
            private = self._chats[chat_id]["type"] == "private"
            sender = user_id if user_id is not None else (chat_id if private else DEFAULT_USER_ID)
            user = {**self._users.get(sender, {"id": sender, "is_bot": False, "first_name": f"User {sender}"}),
                    "language_code": language_code}
            query_id = str(7866573844579717000 + next(self._counter))
            self._callback_queries.add(query_id)
            query = {"id": query_id, "from": user, "message": message, "chat_instance": str(abs(chat_id)), "data": data}
            return self._queue_update({"callback_query": query})

    def _queue_update(self, body: JSONDict) -> JSONDict:
        update = copy.deepcopy({"update_id": self._next_update_id, **body})
        self._next_update_id += 1
        self._updates.append(update)
        return copy.deepcopy(update)

    # ---- test side: what the bot did ---------------------------------------------------------------

    @property
    def sent(self) -> list[SentCall]:
        """Every call the bot made except getUpdates, oldest first (a snapshot)."""
        with self._lock:
            return list(self._sent)

    def calls(self, method: str | None = None, *, chat_id: int | None = None) -> list[SentCall]:
        """Recorded calls, filtered by method and/or chat."""
        return [c for c in self.sent if method in (None, c.method) and chat_id in (None, c.chat_id)]

    def messages_to(self, chat_id: int) -> list[SentCall]:
        """Messages (sendMessage, sendPhoto) that reached ``chat_id``, oldest first."""
        return [c for c in self.calls(chat_id=chat_id) if c.method in _SEND_METHODS and c.ok]

    def commands(self, language_code: str = "") -> list[JSONDict]:
        """The default-scope command list setMyCommands stored for a language ("" = all languages)."""
        with self._lock:
            return copy.deepcopy(self._commands.get(('{"type": "default"}', language_code), []))

    def message(self, chat_id: int, message_id: int) -> JSONDict | None:
        """A message as the peer stores it now (after edits)."""
        with self._lock:
            return copy.deepcopy(self._messages.get((chat_id, message_id)))

    def pending_updates(self) -> int:
        """Updates queued and not yet confirmed by getUpdates."""
        with self._lock:
            return len(self._updates)

    def stats(self) -> PeerStats:
        with self._lock:
            return PeerStats(dict(self._requests), dict(self._statuses), self._too_many_requests, self._flood_violations)

    async def wait_until(self, condition: Callable[[], object], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Until ``condition()`` holds (e.g. ``lambda: len(peer.messages_to(1)) == 3``), or TimeoutError."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() >= deadline:
                last = ", ".join(f"{c.method}({c.chat_id})={c.status}" for c in self.sent[-10:]) or "nothing"
                raise TimeoutError(f"nothing matched within {timeout} s; sent: {last}")
            await asyncio.sleep(0.005)

    async def wait_for(self, predicate: Callable[[SentCall], bool], timeout: float = 5.0, *, since: int = 0) -> SentCall:  # noqa: ASYNC109
        """The first recorded call (from index ``since``) matching ``predicate``; waits up to ``timeout``."""
        def match() -> SentCall | None:
            return next((call for call in self.sent[since:] if predicate(call)), None)

        await self.wait_until(lambda: match() is not None, timeout)
        found = match()
        assert found is not None
        return found

    # ---- dispatch: faults, limits, the method, the record ------------------------------------------

    async def handle(self, token: str, method: str, form: Mapping[str, Any], files: Mapping[str, bytes]) -> tuple[int, Any]:
        """Answer one Bot API call: (HTTP status, JSON body, or a str for an HTML error page)."""
        name = self._method_by_lower.get(method.lower()) if token == self.token else None
        half = self.round_trip_s / 2 if name != "getUpdates" else 0.0
        if half:
            await asyncio.sleep(half)
        arrival = time.monotonic()
        values: JSONDict = {"files": files}
        chat_id: Any = form.get("chat_id")
        result: Any = None
        try:
            if name is None:
                raise _ApiError(Fault(401, "Unauthorized") if token != self.token else Fault(404, "Not Found"))
            values.update((key, _coerce(key, value)) for key, value in form.items())
            chat_id = values.get("chat_id")
            if name == "getUpdates":
                result = await self._get_updates(values)
            else:
                chat_id = await self._admit(name, values)
                with self._lock:  # a snapshot: the stored objects change with later calls
                    result = copy.deepcopy(self._methods[name](values))
            status, body = 200, {"ok": True, "result": result}
        except _ApiError as error:
            fault = error.fault
            status = fault.status
            body = fault.raw_body or {"ok": False, "error_code": status, "description": fault.description}
            if fault.parameters and isinstance(body, dict):
                body["parameters"] = dict(fault.parameters)
        with self._lock:
            if token == self.token:  # as before: a wrong token counts as a 401 only
                self._requests[name or method] += 1
            self._statuses[status] += 1
            self._too_many_requests += status == 429
            if name not in (None, "getUpdates"):
                self._sent.append(_record(name, values, chat_id, arrival, status, body, result))
        if half:
            await asyncio.sleep(half)
        return status, body

    async def _admit(self, name: str, values: JSONDict) -> int | None:
        """Scripted faults, delays and flood limits before a call takes effect; the chat's id."""
        with self._lock:
            index = next((i for i, (_, methods) in enumerate(self._global_faults) if name in (methods or {name})), None)
            if index is not None:
                raise _ApiError(self._global_faults.pop(index)[0])
            if values.get("chat_id") in (None, ""):
                return None
            chat_id = self._chat(values)["id"]
            delay, fault = _take(self._chat_delays, chat_id), _take(self._chat_faults, chat_id)
        if delay:
            await asyncio.sleep(delay)
        if fault is not None:
            raise _ApiError(fault)
        if name in _SEND_METHODS:
            with self._lock:
                group = self._chats[chat_id]["type"] != "private"
                verdict = self._limiter.admit(chat_id, group, time.monotonic()) if self._limiter else None
                if verdict is not None:
                    retry_after, violated = verdict
                    self._flood_violations += violated
                    raise _ApiError(_too_many(retry_after))
        return chat_id

    def _chat(self, values: Mapping[str, Any]) -> JSONDict:
        """The chat a call names, created on first use: private for positive ids, (super)group else."""
        chat_id = values.get("chat_id")
        if not isinstance(chat_id, int) or chat_id == 0:
            raise _bad_request("chat not found")
        kind = "private" if chat_id > 0 else "supergroup" if chat_id <= _SUPERGROUP_ID_FLOOR else "group"
        default = {"first_name": f"User {chat_id}"} if kind == "private" else {"title": f"Group {chat_id}"}
        return self._chats.setdefault(chat_id, {"id": chat_id, "type": kind, **default})

    def _take_message_id(self, chat_id: int) -> int:
        self._next_message_id[chat_id] += 1
        return self._next_message_id[chat_id]

    # ---- methods -----------------------------------------------------------------------------------

    async def _get_updates(self, p: JSONDict) -> list[JSONDict]:
        offset, limit = _int(p, "offset"), min(max(_int(p, "limit") or 100, 1), 100)
        with self._lock:
            if self._webhook_url:
                raise _ApiError(Fault(409, "Conflict: can't use getUpdates method while webhook is active; use "
                                           "deleteWebhook to delete the webhook first"))
            if offset is not None:
                self._updates = self._updates[offset:] if offset < 0 else [u for u in self._updates if u["update_id"] >= offset]
            self._poll_generation += 1
            generation = self._poll_generation
        deadline = time.monotonic() + (_int(p, "timeout") or 0)
        while True:
            with self._lock:
                if generation != self._poll_generation:
                    raise _ApiError(Fault(409, "Conflict: terminated by other getUpdates request; make sure that only "
                                               "one bot instance is running"))
                ready = copy.deepcopy(self._updates[:limit])  # queued updates never change: copied once here
            if ready or self._closing or time.monotonic() >= deadline:
                return ready
            await asyncio.sleep(0.01)

    def _webhook(self, p: JSONDict) -> bool:
        """setWebhook and deleteWebhook (no url): recorded, not served; a test posts to the bot's webhook itself."""
        with self._lock:
            self._webhook_url = str(p.get("url") or "")
            if p.get("drop_pending_updates"):
                self._updates.clear()
        return True

    def _set_my_commands(self, p: JSONDict) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad_request('parameter "commands" is required' if not isinstance(commands, list) else "too many commands")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        language = str(p.get("language_code") or "")
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise _bad_request("invalid language code specified")
        with self._lock:
            self._commands[(json.dumps(p.get("scope") or {"type": "default"}, sort_keys=True), language)] = commands
        return True

    def _formatted(self, p: JSONDict, name: str, limit: int, too_long: str) -> JSONDict:
        """The text or caption as Telegram stores it: {name: plain text, entities}, after its checks."""
        raw = str(p.get(name) or "")
        mode = str(p.get("parse_mode") or "").lower()
        text, entities = raw, []
        if mode == "html":
            try:
                text, entities = parse_html(raw, strict_ampersand=self.strict_ampersand)
            except HtmlParseError as exc:
                raise _bad_request(f"can't parse entities: {exc}") from exc
        elif mode not in ("", "markdown", "markdownv2"):  # Markdown passes unparsed: capgap sends HTML only
            raise _bad_request("unsupported parse_mode")
        if utf16_len(text) > limit:
            raise _bad_request(too_long)
        if name == "text" and not text.strip():
            raise _bad_request("message text is empty")
        formatted: JSONDict = {name: text} if text else {}
        if entities:
            formatted["entities" if name == "text" else "caption_entities"] = entities
        markup = p.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            for button in itertools.chain.from_iterable(markup["inline_keyboard"]):
                if not button.get("text"):
                    raise _bad_request("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
                if not 1 <= len(str(button.get("callback_data", "x")).encode()) <= 64:
                    raise _bad_request("BUTTON_DATA_INVALID")
            formatted["reply_markup"] = markup  # only inline keyboards are echoed back
        return formatted

    def _new_bot_message(self, p: JSONDict, content: JSONDict) -> JSONDict:
        with self._lock:
            chat = self._chat(p)
            message: JSONDict = {"message_id": self._take_message_id(chat["id"]), "from": dict(self.bot_user),
                                 "chat": dict(chat), "date": int(time.time()), **content}
            reply_to = _int(p, "reply_to_message_id") or (p.get("reply_parameters") or {}).get("message_id")
            if reply_to is not None:
                replied = self._messages.get((chat["id"], reply_to))
                if replied is None and not p.get("allow_sending_without_reply"):
                    raise _bad_request("message to be replied not found")
                if replied is not None:
                    message["reply_to_message"] = copy.deepcopy(replied)
            self._messages[(chat["id"], message["message_id"])] = message
            return message

    def _send_photo(self, p: JSONDict) -> JSONDict:
        upload, reference = _upload(p), p.get("photo")
        if upload is not None:
            if (size := png_size(upload)) is None:
                raise _bad_request("IMAGE_PROCESS_FAILED")
            number, longest = next(self._counter), max(size)
            sides = [side for side in (90, 320, 800) if side < longest] + [min(longest, 1280)]
            sizes = [{"file_id": f"AgACAgIAAxkDAAI{number:06d}{index}", "file_unique_id": f"AQAD{number:06d}{index}",
                      "width": max(1, round(size[0] * side / longest)), "height": max(1, round(size[1] * side / longest))}
                     for index, side in enumerate(sides)]
            sizes[-1]["file_size"] = len(upload)
            with self._lock:
                self._files.update({s["file_id"]: (upload, sizes) for s in sizes})
        elif isinstance(reference, str) and reference in self._files:
            with self._lock:
                sizes = self._files[reference][1]
        else:
            raise _bad_request("wrong file identifier/HTTP URL specified" if reference else "there is no photo in the request")
        caption = self._formatted(p, "caption", _CAPTION_LIMIT, "message caption is too long")
        return self._new_bot_message(p, {"photo": sizes, **caption})

    def _editable(self, p: JSONDict) -> JSONDict:
        message = self._messages.get((self._chat(p)["id"], _int(p, "message_id", "message identifier is not specified") or 0))
        if message is None:
            raise _bad_request("message to edit not found")
        if message["from"]["id"] != self.bot_user["id"]:
            raise _bad_request("message can't be edited")
        return message

    def _edit(self, p: JSONDict, content: JSONDict) -> JSONDict:
        with self._lock:
            message = self._editable(p)
            if "text" in content and "text" not in message:
                raise _bad_request("there is no text in the message to edit")
            replaced = {"reply_markup", *content} | ({"entities"} if "text" in content else set())
            kept = {k: v for k, v in message.items() if k not in replaced}
            if {**kept, **content} == message:
                raise _bad_request(_NOT_MODIFIED)
            message.clear()
            message.update(kept, **content, edit_date=int(time.time()))
            return message

    def _answer_callback_query(self, p: JSONDict) -> bool:
        with self._lock:
            if str(p.get("callback_query_id")) not in self._callback_queries:
                raise _bad_request("query is too old and response timeout expired or query ID is invalid")
            self._callback_queries.discard(str(p.get("callback_query_id")))
        if len(str(p.get("text") or "")) > 200:
            raise _bad_request("MESSAGE_TOO_LONG")
        return True

    def _get_chat(self, p: JSONDict) -> JSONDict:
        gifts = dict.fromkeys(("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription",
                               "gifts_from_channels"), False)
        with self._lock:  # ChatFullInfo needs these since Bot API 7.3 (colors) and 9.0 (gifts)
            return {**self._chat(p), "accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": gifts}

    def _get_chat_member(self, p: JSONDict) -> JSONDict:
        user_id = _int(p, "user_id", "user not found")
        with self._lock:
            chat = self._chat(p)
            user = self._users.get(user_id or 0) or {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
            creator, admins = self._admins.get(chat["id"], (None, frozenset()))
        if chat["type"] == "private":
            if user_id != chat["id"]:
                raise _bad_request("user not found")
            return {"status": "member", "user": user}
        if user_id == creator:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if user_id in admins:
            rights = ("can_manage_chat", "can_delete_messages", "can_manage_video_chats", "can_restrict_members",
                      "can_change_info", "can_invite_users", "can_pin_messages")
            denied = ("can_be_edited", "is_anonymous", "can_promote_members", "can_post_stories", "can_edit_stories",
                      "can_delete_stories")
            return {"status": "administrator", "user": user, **dict.fromkeys(rights, True), **dict.fromkeys(denied, False)}
        return {"status": "member", "user": user}


def _upload(p: JSONDict) -> bytes | None:
    """The bytes a sendPhoto uploads: the ``photo`` part, or the part an ``attach://`` names."""
    reference = p.get("photo")
    name = reference[len("attach://") :] if isinstance(reference, str) and reference.startswith("attach://") else "photo"
    upload: bytes | None = p["files"].get(name)
    return upload


def _record(name: str, values: JSONDict, chat_id: Any, arrival: float, status: int, body: Any, result: Any) -> SentCall:
    text = values.get("text", values.get("caption"))
    markup = values.get("reply_markup")
    description = None if status == 200 else body.get("description") if isinstance(body, dict) else str(body)
    return SentCall(name, chat_id, None if text is None else str(text), values.get("parse_mode"),
                    markup if isinstance(markup, dict) else None, _upload(values) if name == "sendPhoto" else None, arrival,
                    status, description, result, {k: v for k, v in values.items() if k != "files"})


class OfflineRequest(BaseRequest):
    """PTB's request seam with no connection to open or close; subclasses answer each call in ``do_request``."""

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return 5.0


class PeerRequest(OfflineRequest):
    """PTB's request seam answered in process by a TelegramPeer; a call slower than the read timeout raises
    TimedOut while it goes on at the peer, as on the network."""

    def __init__(self, peer: TelegramPeer) -> None:
        self.peer = peer

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = BaseRequest.DEFAULT_NONE, *_: Any, **__: Any) -> tuple[int, bytes]:
        token, name = url.rsplit("/", 2)[-2:]
        form = request_data.json_parameters if request_data else {}
        files = {part: content if isinstance(content, bytes) else content.read()
                 for part, (_, content, *_) in (request_data.multipart_data if request_data else {}).items()}
        task = asyncio.ensure_future(self.peer.handle(token.removeprefix("bot"), name, form, files))
        timeout = read_timeout if read_timeout is None or isinstance(read_timeout, int | float) else self.read_timeout
        try:  # a long poll the client abandons ends with it; any other call goes on at the peer
            status, body = await asyncio.wait_for(task if name == "getUpdates" else asyncio.shield(task), timeout)
        except TimeoutError as exc:
            raise TimedOut from exc
        return status, (body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)).encode()


class _HttpHandler(tornado.web.RequestHandler):
    """``/bot<token>/<method>``, GET or POST, with query, form, multipart or JSON parameters."""

    def initialize(self, peer: TelegramPeer) -> None:
        self.peer = peer

    def check_xsrf_cookie(self) -> None:  # the Bot API has no cookies
        return None

    async def get(self, token: str, method: str) -> None:
        form: JSONDict = {k: v[-1].decode("utf-8", "replace") for k, v in self.request.arguments.items()}
        if self.request.headers.get("Content-Type", "").startswith("application/json") and self.request.body:
            form.update(json.loads(self.request.body))
        files = {name: parts[-1].body for name, parts in self.request.files.items()}
        status, body = await self.peer.handle(token, method, form, files)
        if self.request.connection is not None and self.request.connection.stream.closed():  # type: ignore[attr-defined]
            return  # the client gave up (timeout or shutdown); Telegram's answer would go nowhere too
        self.set_status(status)
        self.set_header("Content-Type", "text/html" if isinstance(body, str) else "application/json")
        self.finish(body if isinstance(body, str) else json.dumps(body, ensure_ascii=False))

    post = get
