"""A Telegram Bot API peer on 127.0.0.1 for end-to-end tests and benchmarks.

The peer speaks the Bot API's HTTP+JSON: ``/bot<token>/<method>`` (GET or POST; query string, JSON,
form-urlencoded or multipart bodies) and ``/file/bot<token>/<file_path>``. A real PTB ``Application``
runs against it unchanged::

    async with TelegramPeer() as peer:
        app = ApplicationBuilder().token(peer.token).base_url(peer.base_url) \
            .base_file_url(peer.base_file_url).build()

or, when the bot runs in a subprocess, ``peer = TelegramPeer.start_in_thread()`` … ``peer.stop()``.

What it models, and from where:
- Objects are shaped like Bot API responses (recorded examples in shared/data/fixtures/telegram, Bot API
  5.3) with the fields PTB 22's ``de_json`` requires (e.g. ``ChatFullInfo.accepted_gift_types``).
- HTML parse mode follows tdlib's ``parse_html`` (td/telegram/MessageEntity.cpp): the same tags, the same
  error texts and byte offsets, and the result's ``text``/``entities`` are what Telegram stores. One
  deliberate difference, on by default: a bare ``&`` that starts no entity is rejected (Telegram keeps it
  as text), so a test can prove that interpolated user text went through ``html.escape``.
- Flood limits (off unless ``limits=Limits(...)``): ~30 messages/s overall, 1/s per chat, 20/min per
  group, answered with 429 and ``retry_after``; a client that retries before the wait is over is refused
  again and counted in ``PeerStats.flood_violations``.
- Faults per chat (blocked, chat not found, migrated to a supergroup, a delay, a one-shot 429, 5xx) and
  a global "the next N requests fail" switch.

Test-side methods are thread-safe and may be called from any thread or event loop; the HTTP side runs
on the loop the peer was started on.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import math
import re
import struct
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import urlsplit

import httpx
import tornado.httpserver
import tornado.netutil
import tornado.web

JSONDict = dict[str, Any]

DEFAULT_TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
"""A token of the real shape: bot id, colon, 35 characters."""

DEFAULT_USER_ID = 1001
"""Sender of injected group messages when no ``user_id`` is given."""

_SUPERGROUP_ID_FLOOR = -1_000_000_000_000
"""Supergroup and channel ids are -100 followed by the channel id, so always at or below this."""

_MESSAGE_LIMIT = 4096
_CAPTION_LIMIT = 1024
_PHOTO_BYTES_LIMIT = 10 * 1024 * 1024
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_SEND_METHODS = frozenset({"sendMessage", "sendPhoto"})
"""Methods that create a message: the ones Telegram's flood limits count."""

_METHODS = (
    "getMe",
    "getUpdates",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "setMyCommands",
    "getMyCommands",
    "deleteMyCommands",
    "sendMessage",
    "sendPhoto",
    "sendChatAction",
    "editMessageText",
    "editMessageReplyMarkup",
    "answerCallbackQuery",
    "getChat",
    "getChatMember",
    "getChatAdministrators",
    "getFile",
    "close",
    "logOut",
)
# Telegram matches method names case-insensitively.
_METHOD_BY_LOWER = {name.lower(): name for name in _METHODS}


# --------------------------------------------------------------------------------------------------
# Value types


@dataclass(frozen=True)
class Limits:
    """Telegram's documented flood limits, counted over sliding windows of sent messages.

    ``scale`` speeds the peer's clock up for benchmarks: with ``scale=10`` every window is a tenth as
    long (300 messages/s overall, 10/s per chat, 200/min per group). ``retry_after`` stays an integer in
    peer seconds, as Telegram sends it, so a client in scaled mode must sleep ``retry_after / scale``.
    """

    global_per_second: int = 30
    per_chat_per_second: int = 1
    per_group_per_minute: int = 20
    scale: float = 1.0


@dataclass(frozen=True)
class Fault:
    """A scripted failure: the HTTP status and Bot API error the peer answers with.

    ``times=None`` keeps the fault until it is cleared; ``raw_body`` replaces the JSON error with a
    text/html body, as nginx in front of the Bot API sends for a 502.
    """

    status: int
    description: str
    parameters: Mapping[str, int] | None = None
    times: int | None = None
    raw_body: str | None = None


def grey_png(width: int = 4, height: int = 3) -> bytes:
    """A real PNG of grey pixels, small enough to build inline (a chart for tests that send photos)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def forbidden_blocked() -> Fault:
    """403 for a private chat whose user blocked the bot."""
    return Fault(403, "Forbidden: bot was blocked by the user")


def chat_not_found() -> Fault:
    """400 for a chat id the bot cannot reach (never seen, deleted, or kicked from)."""
    return Fault(400, "Bad Request: chat not found")


def chat_migrated(new_chat_id: int) -> Fault:
    """400 for a group that became a supergroup; ``new_chat_id`` is where messages go now."""
    return Fault(
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        parameters={"migrate_to_chat_id": new_chat_id},
    )


def too_many_requests(retry_after: int, *, times: int | None = 1) -> Fault:
    """429 with ``retry_after`` seconds, once by default."""
    return Fault(
        429,
        f"Too Many Requests: retry after {retry_after}",
        parameters={"retry_after": retry_after},
        times=times,
    )


_NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>"
    "</center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n"
)


def server_error(status: int = 500, *, times: int | None = 1) -> Fault:
    """A 5xx: 502 comes as nginx's HTML page (as from Telegram), others as a JSON error."""
    if status == 502:
        return Fault(502, "Bad Gateway", times=times, raw_body=_NGINX_502)
    return Fault(status, "Internal Server Error", times=times)


@dataclass(frozen=True, eq=False)
class SentCall:
    """One call the bot made to the peer (every method but getUpdates), as received and answered.

    ``text`` is the text or caption exactly as sent (raw HTML); ``result`` is the JSON result returned
    on success (for a send, the Message, whose ``text`` is the parsed plain text). ``time`` is
    ``time.monotonic()`` when the request arrived. ``photo`` holds uploaded bytes.
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
        """Whether the peer answered ``{"ok": true}``."""
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
    def __init__(
        self,
        status: int,
        description: str,
        parameters: Mapping[str, int] | None = None,
        raw_body: str | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = dict(parameters) if parameters else None
        self.raw_body = raw_body

    @classmethod
    def from_fault(cls, fault: Fault) -> _ApiError:
        return cls(fault.status, fault.description, fault.parameters, fault.raw_body)


def _bad_request(what: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {what}")


# --------------------------------------------------------------------------------------------------
# HTML parse mode, after tdlib's parse_html


_HTML_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler", "tg-emoji", "span", "pre"}
    | {"code", "blockquote"}
)
_ENTITY_TYPE_BY_TAG = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_SPACE = " \t\r\n\v\f"


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: the unit of every Bot API entity offset and length."""
    return len(text.encode("utf-16-le")) // 2


def _decode_html_entity(text: str, pos: int) -> tuple[str, int] | None:
    """The character an entity at ``text[pos] == "&"`` stands for and the index after it.

    Only &lt; &gt; &amp; &quot; and numeric references count; the closing ``;`` is optional.
    """
    end = pos + 1
    if text.startswith("#", end):
        end += 1
        hexadecimal = text.startswith("x", end)
        if hexadecimal:
            end += 1
        digits_start = end
        digits = "0123456789abcdefABCDEF" if hexadecimal else "0123456789"
        while end < len(text) and text[end] in digits:
            end += 1
        if end == digits_start or end - pos >= 10:
            return None
        code = int(text[digits_start:end], 16 if hexadecimal else 10)
        if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        char = chr(code)
    else:
        while end < len(text) and text[end].isascii() and text[end].isalpha():
            end += 1
        named = _NAMED_ENTITIES.get(text[pos + 1 : end])
        if named is None:
            return None
        char = named
    if text.startswith(";", end):
        end += 1
    return char, end


def _link_entity(url: str, offset: int, length: int) -> JSONDict | None:
    match = re.fullmatch(r"tg://user\?id=(\d+)", url)
    if match:
        user = {"id": int(match.group(1)), "is_bot": False, "first_name": f"User {match.group(1)}"}
        return {"type": "text_mention", "offset": offset, "length": length, "user": user}
    if not re.match(r"^([a-z][a-z0-9+.-]*://)?[^\s/]+\.[^\s/]+", url, re.IGNORECASE) and not url.startswith(
        ("tg://", "ton://")
    ):
        # tdlib silently drops links it cannot check rather than refusing the message.
        return None
    if "://" not in url:
        url = "http://" + url
    return {"type": "text_link", "offset": offset, "length": length, "url": url}


def parse_html(text: str, *, strict_ampersand: bool = True) -> tuple[str, list[JSONDict]]:
    """Parse Telegram-flavoured HTML into (plain text, MessageEntity dicts), or raise HtmlParseError.

    Errors carry tdlib's wording and UTF-8 byte offsets (``Unsupported start tag "x" at byte offset
    4``). ``strict_ampersand`` also refuses a bare ``&`` that starts no entity; Telegram itself would
    keep it as text.
    """
    out: list[str] = []
    u16 = 0
    stack: list[tuple[str, str, int]] = []  # tag, argument, utf16 offset where it opened
    entities: list[JSONDict] = []
    n = len(text)
    opened_text_at: list[int] = []  # index into ``out`` where each open tag began

    def byte_offset(index: int) -> int:
        return len(text[:index].encode("utf-8"))

    i = 0
    while i < n:
        c = text[i]
        if c == "&":
            decoded = _decode_html_entity(text, i)
            if decoded is not None:
                out.append(decoded[0])
                u16 += utf16_len(decoded[0])
                i = decoded[1]
                continue
            if strict_ampersand:
                raise HtmlParseError(
                    f'Unescaped "&" at byte offset {byte_offset(i)}; write &amp; (the peer\'s strict mode)'
                )
        if c != "<":
            out.append(c)
            u16 += utf16_len(c)
            i += 1
            continue

        begin = i
        i += 1
        if i < n and text[i] == "/":
            if not stack:
                raise HtmlParseError(f"Unexpected end tag at byte offset {byte_offset(begin)}")
            j = i + 1
            while j < n and text[j] not in _HTML_SPACE and text[j] != ">":
                j += 1
            end_name = text[i + 1 : j].lower()
            while j < n and text[j] in _HTML_SPACE:
                j += 1
            if j >= n or text[j] != ">":
                raise HtmlParseError(f"Unclosed end tag at byte offset {byte_offset(begin)}")
            tag, argument, start = stack[-1]
            if end_name and end_name != tag:
                raise HtmlParseError(
                    f'Unmatched end tag at byte offset {byte_offset(begin)}, expected "</{tag}>", '
                    f'found "</{end_name}>"'
                )
            stack.pop()
            inner = "".join(out[opened_text_at.pop() :])
            i = j + 1
            if u16 <= start:
                continue
            length = u16 - start
            if tag in _ENTITY_TYPE_BY_TAG:
                entities.append({"type": _ENTITY_TYPE_BY_TAG[tag], "offset": start, "length": length})
                if tag == "blockquote" and argument == "expandable":
                    entities[-1]["type"] = "expandable_blockquote"
            elif tag == "tg-emoji":
                if not argument.isdigit() or int(argument) == 0:
                    raise HtmlParseError("Invalid custom emoji identifier specified")
                entities.append(
                    {"type": "custom_emoji", "offset": start, "length": length, "custom_emoji_id": argument}
                )
            elif tag == "a":
                link = _link_entity(argument or inner, start, length)
                if link is not None:
                    entities.append(link)
            elif tag == "pre":
                last = entities[-1] if entities else None
                if last and last["type"] == "code" and (last["offset"], last["length"]) == (start, length):
                    entities[-1] = {"type": "pre", "offset": start, "length": length}
                    if last.get("language"):
                        entities[-1]["language"] = last["language"]
                else:
                    entities.append({"type": "pre", "offset": start, "length": length})
            elif tag == "code":
                last = entities[-1] if entities else None
                if last and last["type"] == "pre" and (last["offset"], last["length"]) == (start, length):
                    if argument:
                        last["language"] = argument
                else:
                    entity: JSONDict = {"type": "code", "offset": start, "length": length}
                    if argument:
                        entity["language"] = argument  # kept only if a <pre> wraps it
                    entities.append(entity)
            continue

        while i < n and text[i] not in _HTML_SPACE and text[i] != ">":
            i += 1
        if i >= n:
            raise HtmlParseError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
        tag = text[begin + 1 : i].lower()
        if tag not in _HTML_TAGS:
            raise HtmlParseError(f'Unsupported start tag "{tag}" at byte offset {byte_offset(begin)}')
        argument = ""
        while True:
            while i < n and text[i] in _HTML_SPACE:
                i += 1
            if i >= n:
                raise HtmlParseError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
            if text[i] == ">":
                break
            name_start = i
            while i < n and text[i] not in _HTML_SPACE and text[i] not in "=>":
                i += 1
            name = text[name_start:i]
            if not name:
                raise HtmlParseError(
                    f'Empty attribute name in the tag "{tag}" at byte offset {byte_offset(begin)}'
                )
            while i < n and text[i] in _HTML_SPACE:
                i += 1
            if tag == "blockquote" and name == "expandable" and (i >= n or text[i] != "="):
                argument = "expandable"
                continue
            if i >= n or text[i] != "=":
                raise HtmlParseError(
                    f'Expected equal sign in declaration of an attribute of the tag "{tag}" at byte offset '
                    f"{byte_offset(begin)}"
                )
            i += 1
            while i < n and text[i] in _HTML_SPACE:
                i += 1
            if i >= n:
                raise HtmlParseError(f'Unclosed start tag "{tag}" at byte offset {byte_offset(begin)}')
            if text[i] in "'\"":
                quote = text[i]
                i += 1
                value_chars: list[str] = []
                while i < n and text[i] != quote:
                    if text[i] == "&":
                        decoded = _decode_html_entity(text, i)
                        if decoded is not None:
                            value_chars.append(decoded[0])
                            i = decoded[1]
                            continue
                    value_chars.append(text[i])
                    i += 1
                if i < n:
                    i += 1
                value = "".join(value_chars)
            else:
                token_start = i
                while i < n and (text[i].isascii() and text[i].isalnum() or text[i] in ".-"):
                    i += 1
                value = text[token_start:i].lower()
                if i < n and text[i] not in _HTML_SPACE and text[i] != ">":
                    raise HtmlParseError(
                        f"Unexpected end of name token at byte offset {byte_offset(token_start)}"
                    )
            if i >= n:
                raise HtmlParseError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
            if tag == "a" and name == "href":
                argument = value
            elif tag == "code" and name == "class" and value.startswith("language-"):
                argument = value[len("language-") :]
            elif tag == "span" and name == "class" and value.startswith("tg-"):
                argument = value[len("tg-") :]
            elif tag == "tg-emoji" and name == "emoji-id":
                argument = value
        i += 1  # past ">"
        if tag == "span" and argument != "spoiler":
            raise HtmlParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset(begin)}'
            )
        stack.append((tag, argument, u16))
        opened_text_at.append(len(out))

    if stack:
        raise HtmlParseError(f"Can't find end tag corresponding to start tag {stack[-1][0]}")
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


# --------------------------------------------------------------------------------------------------
# Images: Telegram refuses bytes it cannot decode as a picture


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG or JPEG, or None when the bytes are neither."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            if marker == 0xFF:  # fill byte
                i += 1
                continue
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            segment = int.from_bytes(data[i + 2 : i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height = int.from_bytes(data[i + 5 : i + 7], "big")
                width = int.from_bytes(data[i + 7 : i + 9], "big")
                return width, height
            i += 2 + segment
    return None


# --------------------------------------------------------------------------------------------------
# Request parameters


_INT_PARAMS = frozenset(
    {"chat_id", "message_id", "offset", "limit", "timeout", "user_id", "reply_to_message_id", "cache_time"}
    | {"max_connections", "message_thread_id"}
)
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "commands",
        "scope",
        "allowed_updates",
        "entities",
        "caption_entities",
        "reply_parameters",
    }
    | {"link_preview_options"}
)
_BOOL_PARAMS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "show_alert",
        "drop_pending_updates",
        "disable_web_page_preview",
    }
    | {"allow_sending_without_reply", "show_caption_above_media", "has_spoiler"}
)


@dataclass
class _Upload:
    filename: str
    body: bytes
    content_type: str


def _coerce(name: str, value: Any) -> Any:
    """Form and query values arrive as strings; give them the JSON type the Bot API documents."""
    if not isinstance(value, str):
        return value
    if name in _INT_PARAMS and re.fullmatch(r"-?\d+", value):
        return int(value)
    if name in _INT_PARAMS and re.fullmatch(r"-?\d+\.\d*", value):
        return int(float(value))  # e.g. a long-poll timeout of "1.5" seconds
    if name in _BOOL_PARAMS and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if name in _JSON_PARAMS:
        try:
            return json.loads(value)
        except ValueError as exc:
            if name == "reply_markup":
                raise _bad_request("can't parse reply keyboard markup JSON object") from exc
            raise _bad_request(f"can't parse {name} JSON object") from exc
    return value


class _Params:
    def __init__(self, values: Mapping[str, Any], files: Mapping[str, _Upload]) -> None:
        self.values = {name: _coerce(name, value) for name, value in values.items()}
        self.files = dict(files)

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def get_int(self, name: str, *, required: bool = False, missing: str | None = None) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise _bad_request(missing or f"{name} is empty")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _bad_request(f"invalid {name} specified")
        return int(value)

    def get_str(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None else str(value)

    def get_bool(self, name: str) -> bool:
        return bool(self.values.get(name, False))


# --------------------------------------------------------------------------------------------------
# Flood limits


class _Limiter:
    """Sliding-window counts of accepted messages, plus the bans Telegram keeps after a 429."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._sent: dict[object, deque[float]] = {}
        self._banned_until: dict[object, float] = {}

    def admit(self, chat_id: int, is_group: bool, now: float) -> tuple[int, bool] | None:
        """None if the message may go; else (retry_after in peer seconds, client ignored a ban)."""
        scale = self.limits.scale
        checks: list[tuple[object, int, float]] = [
            ("global", self.limits.global_per_second, 1.0 / scale),
            (("chat", chat_id), self.limits.per_chat_per_second, 1.0 / scale),
        ]
        if is_group:
            checks.append((("group", chat_id), self.limits.per_group_per_minute, 60.0 / scale))
        for key, _, _ in checks:
            until = self._banned_until.get(key)
            if until is not None and now < until:
                return max(1, math.ceil((until - now) * scale)), True
        for key, capacity, window in checks:
            sent = self._sent.setdefault(key, deque())
            while sent and sent[0] <= now - window:
                sent.popleft()
            if len(sent) >= capacity:
                wait = sent[0] + window - now
                retry_after = max(1, math.ceil(wait * scale))
                self._banned_until[key] = now + retry_after / scale
                return retry_after, False
        for key, _, _ in checks:
            self._sent[key].append(now)
        return None


# --------------------------------------------------------------------------------------------------
# HTTP plumbing (tornado)


class _ApiHandler(tornado.web.RequestHandler):
    peer: TelegramPeer

    def initialize(self, peer: TelegramPeer) -> None:
        self.peer = peer

    def check_xsrf_cookie(self) -> None:  # the Bot API has no cookies
        return None

    async def get(self, token: str, method: str) -> None:
        values: dict[str, Any] = {
            k: v[-1].decode("utf-8", "replace") for k, v in self.request.arguments.items()
        }
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.startswith("application/json") and self.request.body:
            try:
                body = json.loads(self.request.body)
            except ValueError:
                self._reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: invalid JSON"})
                return
            if isinstance(body, dict):
                values.update(body)
        files = {
            name: _Upload(parts[-1].filename, parts[-1].body, parts[-1].content_type)
            for name, parts in self.request.files.items()
        }
        self.peer._inflight += 1
        try:
            # A network between the bot and Telegram: half the round trip before the request arrives
            # (where the flood limits count it), half before the answer is back.
            half = self.peer.round_trip_s / 2 if method.lower() != "getupdates" else 0.0
            if half:
                await asyncio.sleep(half)
            status, payload = await self.peer._handle(token, method, values, files)
            if half:
                await asyncio.sleep(half)
        finally:
            self.peer._inflight -= 1
            if not self.peer._inflight and self.peer._idle is not None:
                self.peer._idle.set()
        if self.request.connection is not None and self.request.connection.stream.closed():  # type: ignore[attr-defined]
            return  # the client gave up (timeout or shutdown); Telegram's answer would go nowhere too
        self._reply(status, payload)

    post = get

    def _reply(self, status: int, payload: JSONDict | str) -> None:
        self.set_status(status)
        if isinstance(payload, str):
            self.set_header("Content-Type", "text/html")
            self.finish(payload)
        else:
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(payload, ensure_ascii=False))


class _FileHandler(tornado.web.RequestHandler):
    def initialize(self, peer: TelegramPeer) -> None:
        self.peer = peer

    def get(self, token: str, file_path: str) -> None:
        data = self.peer._file_bytes(token, file_path)
        if data is None:
            self.set_status(404)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"ok": False, "error_code": 404, "description": "Not Found"}))
            return
        self.set_header("Content-Type", "application/octet-stream")
        self.finish(data)


class _NotFoundHandler(tornado.web.RequestHandler):
    def prepare(self) -> None:
        self.set_status(404)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"ok": False, "error_code": 404, "description": "Not Found"}))


# --------------------------------------------------------------------------------------------------
# The peer


class TelegramPeer:
    """A Bot API server on 127.0.0.1 with a test-side API to inject updates and inspect what was sent.

    Run it ``async with TelegramPeer() as peer`` inside a test's loop, or ``TelegramPeer.start_in_thread()``
    (own thread and loop; ``stop()``) when the bot is another process.

    Args:
        token: the one token the peer accepts; any other gets 401 Unauthorized.
        bot_id, bot_username, bot_first_name: the bot user returned by getMe and used as ``from``.
        limits: flood limits to enforce, or None (default) for none.
        strict_ampersand: refuse a bare ``&`` in HTML parse mode (see ``parse_html``).
        known_chats_only: answer "chat not found" for chats that neither an injected update nor
            ``add_chat`` introduced; by default such chats are created on first use (private for
            positive ids, group or supergroup for negative ones).
        round_trip_s: a network round trip added to every request but getUpdates, half on the way in
            (before the limits count the request) and half on the way out.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        bot_first_name: str = "capgap test",
        bot_username: str = "capgap_test_bot",
        limits: Limits | None = None,
        strict_ampersand: bool = True,
        known_chats_only: bool = False,
        round_trip_s: float = 0.0,
    ) -> None:
        self.token = token or DEFAULT_TOKEN
        bot_id = int(self.token.split(":", 1)[0])
        self.bot_user: JSONDict = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.strict_ampersand = strict_ampersand
        self.known_chats_only = known_chats_only
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
        self._usernames: dict[str, int] = {}
        self._next_message_id: dict[int, int] = {}
        self._messages: dict[int, dict[int, JSONDict]] = {}
        self._admins: dict[int, tuple[int | None, frozenset[int]]] = {}
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._callback_queries: dict[str, JSONDict] = {}
        self._answered_callbacks: set[str] = set()
        self._files: dict[str, tuple[str, bytes]] = {}
        self._photo_sizes_by_file: dict[str, list[JSONDict]] = {}
        self._file_ids_by_path: dict[str, str] = {}
        self._file_counter = itertools.count(1)
        self._callback_counter = itertools.count(7866573844579717000)

        self._updates: list[JSONDict] = []
        self._next_update_id = 166770000
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._webhook: JSONDict | None = None
        self._webhook_error: tuple[int, str] | None = None

        self._chat_faults: dict[int, Fault] = {}
        self._chat_delays: dict[int, tuple[float, int | None]] = {}
        self._global_faults: list[tuple[Fault, frozenset[str] | None, int]] = []  # fault, methods, remaining

        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: tornado.httpserver.HTTPServer | None = None
        self._wake: asyncio.Event | None = None
        self._closing = False
        self._webhook_task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._inflight = 0  # requests being handled, touched on the peer's loop only
        self._idle: asyncio.Event | None = None  # set when _inflight drops to 0 during aclose
        self.port = 0

        self._handlers: dict[str, Callable[[_Params], Awaitable[Any]]] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendChatAction": self._send_chat_action,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._answer_callback_query,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
            "getFile": self._get_file,
            "close": self._close,
            "logOut": self._close,
        }

    # ---- lifecycle ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What PTB's ``ApplicationBuilder.base_url`` takes: the token is appended to it."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """What PTB's ``ApplicationBuilder.base_file_url`` takes."""
        return f"{self.url}/file/bot"

    async def start(self) -> None:
        """Listen on a free 127.0.0.1 port, serving on the running event loop."""
        if self._server is not None:
            raise RuntimeError("peer already started")
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        app = tornado.web.Application(
            [
                (r"/bot([^/]*)/([^/]*)", _ApiHandler, {"peer": self}),
                (r"/file/bot([^/]*)/(.+)", _FileHandler, {"peer": self}),
            ],
            default_handler_class=_NotFoundHandler,
            log_function=lambda handler: None,
        )
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        self._server = tornado.httpserver.HTTPServer(
            app, max_body_size=64 * 1024 * 1024, idle_connection_timeout=60
        )
        self._server.add_sockets(sockets)
        self._webhook_task = asyncio.create_task(self._deliver_webhook_updates())

    async def aclose(self) -> None:
        """Answer pending long polls, stop listening and close every connection."""
        if self._server is None:
            return
        self._closing = True
        self._notify()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            try:
                await self._webhook_task
            except asyncio.CancelledError:
                pass
        # Let woken long polls write their answers; a scripted delay may hold a request longer.
        if self._inflight:
            self._idle = asyncio.Event()
            try:
                await asyncio.wait_for(self._idle.wait(), timeout=2.0)
            except TimeoutError:
                pass
        self._server.stop()
        await self._server.close_all_connections()
        self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @classmethod
    def start_in_thread(cls, **kwargs: Any) -> Self:
        """A started peer serving from its own thread and event loop; end it with ``stop()``."""
        peer = cls(**kwargs)
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(peer.start())
            except BaseException as exc:  # handed to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        thread = threading.Thread(target=run, name="telegram-peer", daemon=True)
        thread.start()
        if not ready.wait(10):
            raise RuntimeError("telegram peer did not start within 10 s")
        if failure:
            raise failure[0]
        peer._thread = thread
        return peer

    def stop(self) -> None:
        """Stop a peer started with ``start_in_thread`` and join its thread."""
        if self._thread is None or self._loop is None:
            raise RuntimeError("stop() is for start_in_thread(); an in-loop peer ends with aclose()")
        asyncio.run_coroutine_threadsafe(self.aclose(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._thread = None

    def __enter__(self) -> Self:
        if self._thread is None:
            raise RuntimeError("use TelegramPeer.start_in_thread() for a `with` block, or `async with`")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def application_builder(self) -> Any:
        """A PTB ``ApplicationBuilder`` already pointed at this peer with its token."""
        from telegram.ext import ApplicationBuilder

        return (
            ApplicationBuilder().token(self.token).base_url(self.base_url).base_file_url(self.base_file_url)
        )

    # ---- test side: configuration ------------------------------------------------------------------

    def set_limits(self, limits: Limits | None) -> None:
        """Enforce ``limits`` from now on (fresh windows), or none."""
        with self._lock:
            self._limiter = _Limiter(limits) if limits else None

    def add_chat(
        self,
        chat_id: int,
        chat_type: str = "private",
        *,
        title: str | None = None,
        username: str | None = None,
        first_name: str | None = None,
    ) -> JSONDict:
        """Register a chat (needed with ``known_chats_only``); returns its Chat object."""
        with self._lock:
            return copy.deepcopy(self._register_chat(chat_id, chat_type, title, username, first_name))

    def set_admins(self, chat_id: int, user_ids: Collection[int], *, creator_id: int | None = None) -> None:
        """Administrators of a group for getChatMember/getChatAdministrators; ``creator_id`` owns it."""
        with self._lock:
            self._admins[chat_id] = (creator_id, frozenset(user_ids))

    def set_fault(self, chat_id: int, fault: Fault) -> None:
        """Answer chat-targeted calls for ``chat_id`` with ``fault`` (``fault.times`` times, or always)."""
        with self._lock:
            self._chat_faults[chat_id] = fault

    def block(self, chat_id: int) -> None:
        """The user of this private chat blocked the bot: 403 Forbidden from now on."""
        self.set_fault(chat_id, forbidden_blocked())

    def chat_not_found(self, chat_id: int) -> None:
        """400 "chat not found" for this chat from now on."""
        self.set_fault(chat_id, chat_not_found())

    def migrate(self, chat_id: int, new_chat_id: int) -> None:
        """The group became supergroup ``new_chat_id``: the old id answers 400 with migrate_to_chat_id."""
        with self._lock:
            old = self._chats.get(chat_id, {})
            self._register_chat(new_chat_id, "supergroup", old.get("title") or f"Group {chat_id}", None, None)
            if chat_id in self._admins:
                self._admins[new_chat_id] = self._admins[chat_id]
        self.set_fault(chat_id, chat_migrated(new_chat_id))

    def flood_once(self, chat_id: int, retry_after: int) -> None:
        """The next chat-targeted call for this chat gets 429 with ``retry_after`` seconds."""
        self.set_fault(chat_id, too_many_requests(retry_after))

    def server_error(self, chat_id: int, status: int = 500, *, times: int | None = 1) -> None:
        """The next ``times`` chat-targeted calls for this chat get a 5xx."""
        self.set_fault(chat_id, server_error(status, times=times))

    def delay(self, chat_id: int, seconds: float, *, times: int | None = None) -> None:
        """Hold calls for this chat ``seconds`` (real seconds) before handling them.

        The call still takes effect when the client gave up waiting, as on Telegram, so a sender that
        retries after a timeout can be caught sending twice.
        """
        with self._lock:
            self._chat_delays[chat_id] = (seconds, times)

    def fail_next(
        self,
        n: int,
        status: int = 500,
        description: str = "Internal Server Error",
        *,
        parameters: Mapping[str, int] | None = None,
        methods: Collection[str] | None = None,
    ) -> None:
        """The next ``n`` requests (to ``methods``; default every method but getUpdates) fail so."""
        with self._lock:
            chosen = frozenset(methods) if methods is not None else None
            self._global_faults.append((Fault(status, description, parameters), chosen, n))

    def clear_faults(self, chat_id: int | None = None) -> None:
        """Drop the faults and delays of one chat, or of every chat and the global switch."""
        with self._lock:
            if chat_id is None:
                self._chat_faults.clear()
                self._chat_delays.clear()
                self._global_faults.clear()
            else:
                self._chat_faults.pop(chat_id, None)
                self._chat_delays.pop(chat_id, None)

    # ---- test side: injecting updates --------------------------------------------------------------

    def inject_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        language_code: str | None = "en",
        username: str | None = None,
        first_name: str | None = None,
        title: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> JSONDict:
        """Queue a user's text message as an Update and return it.

        A text starting with ``/`` carries a ``bot_command`` entity over its first word. In a private
        chat the sender is the chat (``user_id`` defaults to ``chat_id``); in a group it defaults to
        ``DEFAULT_USER_ID``.
        """
        if chat_type not in ("private", "group", "supergroup"):
            raise ValueError(f"chat_type must be private, group or supergroup, not {chat_type!r}")
        if chat_type == "private":
            if user_id is not None and user_id != chat_id:
                raise ValueError("a private chat's id is its user's id")
            user_id = chat_id
        elif chat_id >= 0:
            raise ValueError("group and supergroup ids are negative")
        sender_id = user_id if user_id is not None else DEFAULT_USER_ID
        with self._lock:
            user = self._register_user(sender_id, username, first_name, language_code)
            chat = self._register_chat(
                chat_id,
                chat_type,
                title,
                user.get("username") if chat_type == "private" else None,
                user["first_name"] if chat_type == "private" else None,
            )
            message: JSONDict = {
                "message_id": self._take_message_id(chat_id),
                "from": copy.deepcopy(user),
                "chat": copy.deepcopy(chat),
                "date": int(time.time()),
                "text": text,
            }
            if text.startswith("/"):
                command = text.split(maxsplit=1)[0] if text.strip() else text
                message["entities"] = [{"offset": 0, "length": utf16_len(command), "type": "bot_command"}]
            if reply_to_message_id is not None:
                replied = self._messages.get(chat_id, {}).get(reply_to_message_id)
                if replied is None:
                    raise ValueError(f"no message {reply_to_message_id} in chat {chat_id}")
                message["reply_to_message"] = copy.deepcopy(replied)
            self._messages.setdefault(chat_id, {})[message["message_id"]] = message
            update = self._queue_update({"message": message})
        return update

    def inject_callback(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        user_id: int | None = None,
        language_code: str = "en",
    ) -> JSONDict:
        """Queue a press on an inline button of the bot's message ``message_id``; returns the Update."""
        with self._lock:
            message = self._messages.get(chat_id, {}).get(message_id)
            if message is None:
                raise ValueError(f"no message {message_id} in chat {chat_id}")
            chat = self._chats[chat_id]
            sender_id = (
                user_id
                if user_id is not None
                else (chat_id if chat["type"] == "private" else DEFAULT_USER_ID)
            )
            user = self._register_user(sender_id, None, None, language_code)
            query_id = str(next(self._callback_counter))
            query = {
                "id": query_id,
                "from": copy.deepcopy(user),
                "message": copy.deepcopy(message),
                "chat_instance": str(abs(chat_id) * 7919 + 4242424242424242424),
                "data": data,
            }
            self._callback_queries[query_id] = query
            update = self._queue_update({"callback_query": query})
        return update

    def inject_update(self, update: Mapping[str, Any]) -> JSONDict:
        """Queue any Update object (an ``update_id`` is assigned) and return it."""
        with self._lock:
            body = {k: copy.deepcopy(v) for k, v in update.items() if k != "update_id"}
            return self._queue_update(body)

    # ---- test side: what the bot did ---------------------------------------------------------------

    @property
    def sent(self) -> list[SentCall]:
        """Every call the bot made except getUpdates, oldest first (a snapshot)."""
        with self._lock:
            return list(self._sent)

    def calls(self, method: str | None = None, *, chat_id: int | None = None) -> list[SentCall]:
        """Recorded calls, filtered by method and/or chat."""
        with self._lock:
            return [
                call
                for call in self._sent
                if (method is None or call.method == method) and (chat_id is None or call.chat_id == chat_id)
            ]

    def messages_to(self, chat_id: int) -> list[SentCall]:
        """Messages (sendMessage, sendPhoto) that reached ``chat_id``: answered ok, oldest first."""
        with self._lock:
            return [c for c in self._sent if c.method in _SEND_METHODS and c.ok and c.chat_id == chat_id]

    def clear_sent(self) -> None:
        """Forget recorded calls (counters stay)."""
        with self._lock:
            self._sent.clear()

    def commands(self, language_code: str = "", scope: Mapping[str, Any] | None = None) -> list[JSONDict]:
        """The command list stored by setMyCommands for this scope and language ("" = all languages)."""
        with self._lock:
            return copy.deepcopy(self._commands.get((self._scope_key(scope), language_code), []))

    def message(self, chat_id: int, message_id: int) -> JSONDict | None:
        """The current state of a message (after edits) as the peer stores it."""
        with self._lock:
            stored = self._messages.get(chat_id, {}).get(message_id)
            return copy.deepcopy(stored) if stored else None

    def pending_updates(self) -> int:
        """Updates queued and not yet confirmed by getUpdates (or delivered to the webhook)."""
        with self._lock:
            return len(self._updates)

    def stats(self) -> PeerStats:
        """A snapshot of the counters."""
        with self._lock:
            return PeerStats(
                requests=dict(self._requests),
                statuses=dict(self._statuses),
                too_many_requests=self._too_many_requests,
                flood_violations=self._flood_violations,
            )

    async def wait_for(
        self,
        predicate: Callable[[SentCall], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 -- the brief's signature; mirrors wait_for_sync
        *,
        since: int = 0,
    ) -> SentCall:
        """The first recorded call (from index ``since``) matching ``predicate``; waits up to ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            found = self._find(predicate, since)
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no matching call within {timeout} s; sent: {self._summary()}")
            await asyncio.sleep(0.005)

    def wait_for_sync(
        self, predicate: Callable[[SentCall], bool], timeout: float = 5.0, *, since: int = 0
    ) -> SentCall:
        """``wait_for`` for a thread that is not the peer's loop (e.g. a test driving a subprocess)."""
        self._refuse_on_own_loop()
        deadline = time.monotonic() + timeout
        while True:
            found = self._find(predicate, since)
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no matching call within {timeout} s; sent: {self._summary()}")
            time.sleep(0.005)

    async def wait_until(
        self,
        condition: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 -- mirrors wait_until_sync
    ) -> None:
        """Wait until ``condition()`` holds (e.g. ``lambda: len(peer.messages_to(1)) == 3``)."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout} s; sent: {self._summary()}")
            await asyncio.sleep(0.005)

    def wait_until_sync(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """``wait_until`` for a thread that is not the peer's loop."""
        self._refuse_on_own_loop()
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout} s; sent: {self._summary()}")
            time.sleep(0.005)

    def _find(self, predicate: Callable[[SentCall], bool], since: int) -> SentCall | None:
        with self._lock:
            candidates = self._sent[since:]
        return next((call for call in candidates if predicate(call)), None)

    def _summary(self) -> str:
        with self._lock:
            return ", ".join(f"{c.method}({c.chat_id})={c.status}" for c in self._sent[-10:]) or "nothing"

    def _refuse_on_own_loop(self) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return
        if running is self._loop:
            raise RuntimeError("a sync wait on the peer's own loop would block it; await wait_for() instead")

    # ---- registries (call with the lock held) ------------------------------------------------------

    def _register_user(
        self, user_id: int, username: str | None, first_name: str | None, language_code: str | None
    ) -> JSONDict:
        user = self._users.get(user_id)
        if user is None:
            user = {"id": user_id, "is_bot": False, "first_name": first_name or f"User {user_id}"}
            self._users[user_id] = user
        if first_name:
            user["first_name"] = first_name
        if username:
            user["username"] = username
            self._usernames[username.lower()] = user_id
        if language_code:
            user["language_code"] = language_code
        return user

    def _register_chat(
        self, chat_id: int, chat_type: str, title: str | None, username: str | None, first_name: str | None
    ) -> JSONDict:
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = {"id": chat_id, "type": chat_type}
            self._chats[chat_id] = chat
        chat["type"] = chat_type
        if chat_type == "private":
            chat["first_name"] = first_name or chat.get("first_name") or f"User {chat_id}"
            if username:
                chat["username"] = username
                self._usernames[username.lower()] = chat_id
        else:
            chat["title"] = title or chat.get("title") or f"Group {chat_id}"
        return chat

    def _chat(self, chat_id: int | str | None) -> JSONDict:
        if chat_id is None or chat_id == "":
            raise _bad_request("chat_id is empty")
        if isinstance(chat_id, str):
            known = self._usernames.get(chat_id.lstrip("@").lower()) if chat_id.startswith("@") else None
            if known is None:
                raise _bad_request("chat not found")
            chat_id = known
        chat = self._chats.get(chat_id)
        if chat is not None:
            return chat
        if self.known_chats_only or chat_id == 0:
            raise _bad_request("chat not found")
        if chat_id > 0:
            return self._register_chat(chat_id, "private", None, None, None)
        kind = "supergroup" if chat_id <= _SUPERGROUP_ID_FLOOR else "group"
        return self._register_chat(chat_id, kind, None, None, None)

    def _take_message_id(self, chat_id: int) -> int:
        next_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = next_id + 1
        return next_id

    def _queue_update(self, body: JSONDict) -> JSONDict:
        update = {"update_id": self._next_update_id, **body}
        self._next_update_id += 1
        self._updates.append(update)
        self._notify_threadsafe()
        return copy.deepcopy(update)

    @staticmethod
    def _scope_key(scope: Mapping[str, Any] | None) -> str:
        return json.dumps(dict(scope) if scope else {"type": "default"}, sort_keys=True)

    # ---- waking long polls and the webhook sender --------------------------------------------------

    def _notify(self) -> None:
        if self._wake is not None:
            self._wake.set()
            self._wake = asyncio.Event()

    def _notify_threadsafe(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._notify)
        except RuntimeError:  # the loop closed between the check and the call
            pass

    async def _wait_for_wake(self, seconds: float) -> None:
        assert self._wake is not None
        wake = self._wake
        try:
            await asyncio.wait_for(wake.wait(), timeout=max(seconds, 0.0))
        except TimeoutError:
            pass

    # ---- request dispatch --------------------------------------------------------------------------

    async def _handle(
        self, token: str, method: str, values: Mapping[str, Any], files: Mapping[str, _Upload]
    ) -> tuple[int, JSONDict | str]:
        arrival = time.monotonic()
        if token != self.token:
            with self._lock:
                self._statuses[401] += 1
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        name = _METHOD_BY_LOWER.get(method.lower())
        with self._lock:
            self._requests[name or method] += 1
        if name is None:
            with self._lock:
                self._statuses[404] += 1
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}

        params: _Params | None = None
        chat_id: int | str | None = None
        try:
            params = _Params(values, files)
            chat_id, payload = await self._run(name, params, arrival)
            status: int = 200
            ok_body: JSONDict = {"ok": True, "result": payload}
            if name == "deleteWebhook":
                ok_body["description"] = "Webhook was deleted"
            elif name == "setWebhook":
                ok_body["description"] = "Webhook was set"
            body: JSONDict | str = ok_body
        except _ApiError as error:
            status = error.status
            payload = None
            if error.raw_body is not None:
                body = error.raw_body
            else:
                body = {"ok": False, "error_code": error.status, "description": error.description}
                if error.parameters:
                    body["parameters"] = error.parameters
            with self._lock:
                if status == 429:
                    self._too_many_requests += 1
            if chat_id is None and params is not None:
                chat_id = params.get("chat_id")
            description: str | None = error.description
        else:
            description = None
        with self._lock:
            self._statuses[status] += 1
            if name != "getUpdates":
                self._sent.append(self._record(name, params, chat_id, arrival, status, description, payload))
        return status, body

    async def _run(self, name: str, params: _Params, arrival: float) -> tuple[int | str | None, Any]:
        """Faults, limits, then the method; returns (resolved chat id, result)."""
        raw_chat_id = params.get("chat_id")
        chat_id: int | str | None = raw_chat_id
        with self._lock:
            fault = self._take_global_fault(name)
            delay = 0.0
            if fault is None and raw_chat_id not in (None, ""):
                chat = self._chat(raw_chat_id)
                chat_id = chat["id"]
                delay = self._take_delay(chat["id"])
                fault = self._take_chat_fault(chat["id"])
        if delay:
            await asyncio.sleep(delay)
        if fault is not None:
            raise _ApiError.from_fault(fault)
        if name in _SEND_METHODS and isinstance(chat_id, int):
            with self._lock:
                verdict = None
                if self._limiter is not None:
                    is_group = self._chats[chat_id]["type"] != "private"
                    verdict = self._limiter.admit(chat_id, is_group, time.monotonic())
                if verdict is not None:
                    retry_after, violated = verdict
                    if violated:
                        self._flood_violations += 1
                    raise _ApiError(
                        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
                    )
        return chat_id, await self._handlers[name](params)

    def _take_global_fault(self, method: str) -> Fault | None:
        for index, (fault, methods, remaining) in enumerate(self._global_faults):
            applies = method in methods if methods is not None else method != "getUpdates"
            if applies:
                if remaining <= 1:
                    del self._global_faults[index]
                else:
                    self._global_faults[index] = (fault, methods, remaining - 1)
                return fault
        return None

    def _take_chat_fault(self, chat_id: int) -> Fault | None:
        fault = self._chat_faults.get(chat_id)
        if fault is None:
            return None
        if fault.times is not None:
            if fault.times <= 1:
                del self._chat_faults[chat_id]
            else:
                self._chat_faults[chat_id] = Fault(
                    fault.status, fault.description, fault.parameters, fault.times - 1, fault.raw_body
                )
        return fault

    def _take_delay(self, chat_id: int) -> float:
        entry = self._chat_delays.get(chat_id)
        if entry is None:
            return 0.0
        seconds, times = entry
        if times is not None:
            if times <= 1:
                del self._chat_delays[chat_id]
            else:
                self._chat_delays[chat_id] = (seconds, times - 1)
        return seconds

    @staticmethod
    def _record(
        name: str,
        params: _Params | None,
        chat_id: int | str | None,
        arrival: float,
        status: int,
        description: str | None,
        result: Any,
    ) -> SentCall:
        values = params.values if params is not None else {}
        text = values.get("text", values.get("caption"))
        markup = values.get("reply_markup")
        photo: bytes | None = None
        if params is not None and name == "sendPhoto":
            upload = _photo_upload(params)
            photo = upload.body if upload is not None else None
        return SentCall(
            method=name,
            chat_id=chat_id,
            text=None if text is None else str(text),
            parse_mode=values.get("parse_mode"),
            reply_markup=markup if isinstance(markup, dict) else None,
            photo=photo,
            time=arrival,
            status=status,
            description=description,
            result=copy.deepcopy(result),
            params=copy.deepcopy(values),
        )

    def _file_bytes(self, token: str, file_path: str) -> bytes | None:
        if token != self.token:
            return None
        with self._lock:
            file_id = self._file_ids_by_path.get(file_path)
            return self._files[file_id][1] if file_id else None

    # ---- methods -----------------------------------------------------------------------------------

    async def _get_me(self, p: _Params) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, p: _Params) -> list[JSONDict]:
        offset = p.get_int("offset")
        limit = p.get_int("limit") or 100
        timeout = p.get_int("timeout") or 0
        if not 1 <= limit <= 100:
            limit = 100
        allowed = p.get("allowed_updates")
        with self._lock:
            if self._webhook is not None:
                raise _ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
                    "delete the webhook first",
                )
            if isinstance(allowed, list):
                # Telegram remembers allowed_updates for later calls; an empty list means "all but a few".
                self._allowed_updates = [str(kind) for kind in allowed] or None
            if offset is not None:
                if offset < 0:
                    self._updates = self._updates[offset:]
                else:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
            self._poll_generation += 1
            generation = self._poll_generation
        self._notify()  # an older long poll still waiting is terminated below
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if generation != self._poll_generation:
                    raise _ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that only one bot "
                        "instance is running",
                    )
                if self._allowed_updates is not None:
                    kept = set(self._allowed_updates)
                    self._updates = [u for u in self._updates if kept & set(u) - {"update_id"}]
                ready = self._updates[:limit]
            remaining = deadline - time.monotonic()
            if ready or remaining <= 0 or self._closing:
                return copy.deepcopy(ready)
            await self._wait_for_wake(remaining)

    async def _set_webhook(self, p: _Params) -> bool:
        url = p.get_str("url") or ""
        if not url:
            return await self._delete_webhook(p)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            # The peer only ever talks to this machine.
            raise _bad_request(f"bad webhook: Failed to resolve host: {parts.hostname} is not loopback")
        secret = p.get_str("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise _bad_request("bad webhook: secret token contains unallowed characters")
        with self._lock:
            if p.get_bool("drop_pending_updates"):
                self._updates.clear()
            allowed = p.get("allowed_updates")
            if isinstance(allowed, list):
                self._allowed_updates = [str(kind) for kind in allowed] or None
            self._webhook = {
                "url": url,
                "secret_token": secret,
                "max_connections": p.get_int("max_connections") or 40,
            }
            self._webhook_error = None
            self._poll_generation += 1
        self._notify()
        return True

    async def _delete_webhook(self, p: _Params) -> bool:
        with self._lock:
            self._webhook = None
            self._webhook_error = None
            if p.get_bool("drop_pending_updates"):
                self._updates.clear()
        return True

    async def _get_webhook_info(self, p: _Params) -> JSONDict:
        with self._lock:
            info: JSONDict = {
                "url": self._webhook["url"] if self._webhook else "",
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
            if self._webhook:
                info["max_connections"] = self._webhook["max_connections"]
                info["ip_address"] = "127.0.0.1"
                if self._allowed_updates is not None:
                    info["allowed_updates"] = list(self._allowed_updates)
            if self._webhook_error:
                info["last_error_date"], info["last_error_message"] = self._webhook_error
            return info

    async def _deliver_webhook_updates(self) -> None:
        """POST queued updates to the webhook one at a time, in order, retrying until one is taken."""
        async with httpx.AsyncClient(timeout=10.0) as client:
            while not self._closing:
                with self._lock:
                    hook = dict(self._webhook) if self._webhook else None
                    if hook and self._allowed_updates is not None:
                        kept = set(self._allowed_updates)
                        self._updates = [u for u in self._updates if kept & set(u) - {"update_id"}]
                    update = copy.deepcopy(self._updates[0]) if hook and self._updates else None
                if hook is None or update is None:
                    await self._wait_for_wake(1.0)
                    continue
                headers = (
                    {"X-Telegram-Bot-Api-Secret-Token": hook["secret_token"]} if hook["secret_token"] else {}
                )
                error: str | None = None
                try:
                    response = await client.post(hook["url"], json=update, headers=headers)
                    if not 200 <= response.status_code < 300:
                        status = f"{response.status_code} {response.reason_phrase}"
                        error = f"Wrong response from the webhook: {status}"
                except httpx.HTTPError as exc:
                    error = f"Connection error: {type(exc).__name__}"
                with self._lock:
                    if error is None:
                        self._updates = [u for u in self._updates if u["update_id"] != update["update_id"]]
                    else:
                        self._webhook_error = (int(time.time()), error)
                if error is not None:
                    await self._wait_for_wake(0.2)

    async def _set_my_commands(self, p: _Params) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise _bad_request('parameter "commands" is required')
        if len(commands) > 100:
            raise _bad_request("too many commands specified")
        checked: list[JSONDict] = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad_request("can't parse BotCommand")
            name = str(command.get("command", ""))
            description = str(command.get("description", ""))
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            checked.append({"command": name, "description": description})
        key = self._commands_key(p)
        with self._lock:
            self._commands[key] = checked
        return True

    async def _get_my_commands(self, p: _Params) -> list[JSONDict]:
        key = self._commands_key(p)
        with self._lock:
            return copy.deepcopy(self._commands.get(key, []))

    async def _delete_my_commands(self, p: _Params) -> bool:
        key = self._commands_key(p)
        with self._lock:
            self._commands.pop(key, None)
        return True

    def _commands_key(self, p: _Params) -> tuple[str, str]:
        language = p.get_str("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise _bad_request("invalid language code specified")
        scope = p.get("scope")
        if scope is not None and not (isinstance(scope, dict) and isinstance(scope.get("type"), str)):
            raise _bad_request("can't parse BotCommandScope")
        if scope is not None and scope["type"] in ("chat", "chat_administrators", "chat_member"):
            with self._lock:
                scope = {**scope, "chat_id": self._chat(scope.get("chat_id"))["id"]}
        return self._scope_key(scope), language

    def _formatted(
        self, p: _Params, field_name: str, limit: int, too_long: str
    ) -> tuple[str, list[JSONDict]]:
        raw = p.get_str(field_name) or ""
        mode = (p.get_str("parse_mode") or "").lower()
        if mode == "html":
            try:
                text, entities = parse_html(raw, strict_ampersand=self.strict_ampersand)
            except HtmlParseError as exc:
                raise _bad_request(f"can't parse entities: {exc}") from exc
        elif mode in ("", "markdown", "markdownv2"):
            # Markdown is passed through unparsed: capgap sends HTML only.
            text = raw
            given = p.get("entities" if field_name == "text" else "caption_entities")
            entities = list(given) if isinstance(given, list) else []
        else:
            raise _bad_request("unsupported parse_mode")
        if utf16_len(text) > limit:
            raise _bad_request(too_long)
        return text, entities

    def _inline_markup(self, p: _Params) -> JSONDict | None:
        """The reply_markup Telegram echoes in the Message: inline keyboards only, after checks."""
        markup = p.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        keyboard = markup.get("inline_keyboard")
        if keyboard is None:
            return None  # reply keyboards and force_reply are not echoed back
        if not isinstance(keyboard, list) or not all(isinstance(row, list) for row in keyboard):
            raise _bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        for row in keyboard:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise _bad_request(
                        "can't parse inline keyboard button: Text buttons are unallowed in the "
                        "inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode("utf-8")) <= 64:
                    raise _bad_request("BUTTON_DATA_INVALID")
        return copy.deepcopy(markup)

    def _new_bot_message(self, chat: JSONDict, p: _Params, content: JSONDict) -> JSONDict:
        """Store and return a message from the bot (call with the lock held)."""
        chat_id = chat["id"]
        replied: JSONDict | None = None
        reply_to = p.get_int("reply_to_message_id")
        reply_parameters = p.get("reply_parameters")
        if isinstance(reply_parameters, dict) and reply_parameters.get("message_id") is not None:
            reply_to = int(reply_parameters["message_id"])
        if reply_to is not None:
            replied = self._messages.get(chat_id, {}).get(reply_to)
            allow_missing = p.get_bool("allow_sending_without_reply") or (
                isinstance(reply_parameters, dict) and reply_parameters.get("allow_sending_without_reply")
            )
            if replied is None and not allow_missing:
                raise _bad_request("message to be replied not found")
        message: JSONDict = {
            "message_id": self._take_message_id(chat_id),
            "from": copy.deepcopy(self.bot_user),
            "chat": copy.deepcopy(chat),
            "date": int(time.time()),
        }
        if replied is not None:
            message["reply_to_message"] = copy.deepcopy(replied)
        message.update(content)
        self._messages.setdefault(chat_id, {})[message["message_id"]] = message
        return copy.deepcopy(message)

    async def _send_message(self, p: _Params) -> JSONDict:
        text, entities = self._formatted(p, "text", _MESSAGE_LIMIT, "message is too long")
        if not text.strip():
            raise _bad_request("message text is empty")
        markup = self._inline_markup(p)
        content: JSONDict = {"text": text}
        if entities:
            content["entities"] = entities
        if markup is not None:
            content["reply_markup"] = markup
        with self._lock:
            return self._new_bot_message(self._chat(p.get("chat_id")), p, content)

    async def _send_photo(self, p: _Params) -> JSONDict:
        upload = _photo_upload(p)
        reference = p.get("photo")
        with self._lock:
            if upload is not None:
                sizes = self._store_photo(upload.body)
            elif isinstance(reference, str) and reference and reference in self._files:
                sizes = self._photo_sizes_by_file.get(reference) or []
            elif reference in (None, ""):
                raise _bad_request("there is no photo in the request")
            else:
                # URLs would need the network; unknown file ids are refused like on Telegram.
                raise _bad_request("wrong file identifier/HTTP URL specified")
        caption, entities = self._formatted(p, "caption", _CAPTION_LIMIT, "message caption is too long")
        markup = self._inline_markup(p)
        content: JSONDict = {"photo": sizes}
        if caption:
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        if markup is not None:
            content["reply_markup"] = markup
        with self._lock:
            return self._new_bot_message(self._chat(p.get("chat_id")), p, content)

    def _store_photo(self, data: bytes) -> list[JSONDict]:
        """Telegram's thumbnails of an uploaded picture: 90/320/800 px sides and the original up to 1280."""
        if len(data) > _PHOTO_BYTES_LIMIT:
            raise _ApiError(413, "Request Entity Too Large")
        size = image_size(data)
        if size is None:
            raise _bad_request("IMAGE_PROCESS_FAILED")
        width, height = size
        if width + height > 10000 or max(width, height) > 20 * max(1, min(width, height)):
            raise _bad_request("PHOTO_INVALID_DIMENSIONS")
        longest = max(width, height)
        sides = [side for side in (90, 320, 800) if side < longest] + [min(longest, 1280)]
        number = next(self._file_counter)
        extension = "png" if data.startswith(b"\x89PNG") else "jpg"
        path = f"photos/file_{number}.{extension}"
        sizes: list[JSONDict] = []
        for index, side in enumerate(sides):
            ratio = side / longest
            file_id = f"AgACAgIAAxkDAAI{number:06d}{index}"
            photo_size: JSONDict = {
                "file_id": file_id,
                "file_unique_id": f"AQAD{number:06d}{index}",
                "width": max(1, round(width * ratio)),
                "height": max(1, round(height * ratio)),
            }
            if index == len(sides) - 1:
                photo_size["file_size"] = len(data)
            sizes.append(photo_size)
            self._files[file_id] = (path, data)
        self._file_ids_by_path[path] = sizes[-1]["file_id"]
        for photo_size in sizes:
            self._photo_sizes_by_file[photo_size["file_id"]] = copy.deepcopy(sizes)
        return sizes

    async def _send_chat_action(self, p: _Params) -> bool:
        action = p.get_str("action")
        if not action:
            raise _bad_request("action is empty")
        if action not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        with self._lock:
            self._chat(p.get("chat_id"))
        return True

    def _editable(self, p: _Params) -> JSONDict:
        """The stored bot message an edit targets (call with the lock held)."""
        if p.get("inline_message_id") is not None:
            raise _bad_request("MESSAGE_ID_INVALID")  # the peer has no inline messages
        chat = self._chat(p.get("chat_id"))
        message_id = p.get_int("message_id", required=True, missing="message identifier is not specified")
        assert message_id is not None
        message = self._messages.get(chat["id"], {}).get(message_id)
        if message is None:
            raise _bad_request("message to edit not found")
        if message.get("from", {}).get("id") != self.bot_user["id"]:
            raise _bad_request("message can't be edited")
        return message

    async def _edit_message_text(self, p: _Params) -> JSONDict:
        text, entities = self._formatted(p, "text", _MESSAGE_LIMIT, "MESSAGE_TOO_LONG")
        if not text.strip():
            raise _bad_request("message text is empty")
        markup = self._inline_markup(p)
        with self._lock:
            message = self._editable(p)
            if "text" not in message:
                raise _bad_request("there is no text in the message to edit")
            unchanged = (
                message["text"] == text
                and message.get("entities", []) == entities
                and message.get("reply_markup") == markup
            )
            if unchanged:
                raise _bad_request(
                    "message is not modified: specified new message content and reply markup are exactly the "
                    "same as a current content and reply markup of the message"
                )
            message["text"] = text
            message.pop("entities", None)
            if entities:
                message["entities"] = entities
            message.pop("reply_markup", None)
            if markup is not None:
                message["reply_markup"] = markup
            message["edit_date"] = int(time.time())
            return copy.deepcopy(message)

    async def _edit_message_reply_markup(self, p: _Params) -> JSONDict:
        markup = self._inline_markup(p)
        with self._lock:
            message = self._editable(p)
            if message.get("reply_markup") == markup:
                raise _bad_request(
                    "message is not modified: specified new message content and reply markup are exactly the "
                    "same as a current content and reply markup of the message"
                )
            message.pop("reply_markup", None)
            if markup is not None:
                message["reply_markup"] = markup
            message["edit_date"] = int(time.time())
            return copy.deepcopy(message)

    async def _answer_callback_query(self, p: _Params) -> bool:
        query_id = p.get_str("callback_query_id")
        with self._lock:
            if not query_id or query_id not in self._callback_queries or query_id in self._answered_callbacks:
                raise _bad_request("query is too old and response timeout expired or query ID is invalid")
            text = p.get_str("text") or ""
            if len(text) > 200:
                raise _bad_request("MESSAGE_TOO_LONG")
            self._answered_callbacks.add(query_id)
        return True

    async def _get_chat(self, p: _Params) -> JSONDict:
        with self._lock:
            chat = copy.deepcopy(self._chat(p.get("chat_id")))
        # Required by ChatFullInfo since Bot API 7.3 (colors) and 9.0 (gifts).
        chat.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        return chat

    def _member(self, chat: JSONDict, user_id: int) -> JSONDict:
        user = copy.deepcopy(
            self.bot_user if user_id == self.bot_user["id"] else self._users.get(user_id)
        ) or {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        creator, admins = self._admins.get(chat["id"], (None, frozenset()))
        if chat["type"] != "private" and user_id == creator:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if chat["type"] != "private" and user_id in admins:
            return {
                "status": "administrator",
                "user": user,
                "can_be_edited": False,
                "is_anonymous": False,
                "can_manage_chat": True,
                "can_delete_messages": True,
                "can_manage_video_chats": True,
                "can_restrict_members": True,
                "can_promote_members": False,
                "can_change_info": True,
                "can_invite_users": True,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
                "can_pin_messages": True,
            }
        return {"status": "member", "user": user}

    async def _get_chat_member(self, p: _Params) -> JSONDict:
        user_id = p.get_int("user_id", required=True, missing="user not found")
        assert user_id is not None
        with self._lock:
            chat = self._chat(p.get("chat_id"))
            if chat["type"] == "private" and user_id not in (chat["id"], self.bot_user["id"]):
                raise _bad_request("user not found")
            return self._member(chat, user_id)

    async def _get_chat_administrators(self, p: _Params) -> list[JSONDict]:
        with self._lock:
            chat = self._chat(p.get("chat_id"))
            if chat["type"] == "private":
                raise _bad_request("there are no administrators in the private chat")
            creator, admins = self._admins.get(chat["id"], (None, frozenset()))
            ids = ([creator] if creator is not None else []) + sorted(admins - {creator})
            return [self._member(chat, user_id) for user_id in ids]

    async def _get_file(self, p: _Params) -> JSONDict:
        file_id = p.get_str("file_id")
        with self._lock:
            if not file_id or file_id not in self._files:
                raise _bad_request("invalid file_id")
            path, data = self._files[file_id]
            unique = next(
                (
                    s["file_unique_id"]
                    for s in self._photo_sizes_by_file.get(file_id, [])
                    if s["file_id"] == file_id
                ),
                file_id,
            )
        return {"file_id": file_id, "file_unique_id": unique, "file_size": len(data), "file_path": path}

    async def _close(self, p: _Params) -> bool:
        return True


def _photo_upload(p: _Params) -> _Upload | None:
    """The uploaded file a sendPhoto carries: the ``photo`` part, or the part an attach:// names."""
    reference = p.get("photo")
    if isinstance(reference, str) and reference.startswith("attach://"):
        return p.files.get(reference[len("attach://") :])
    return p.files.get("photo")
