"""The one way from a reply to Telegram: a Reply (text, optional chart, buttons) as Bot API calls.

A reply is sent as parts, one Bot API call each, in this order:

- without a chart: its text, split at line breaks into messages of at most 4,096 characters of HTML
  (a single line longer than that is cut between characters, never inside a tag or an entity; a tag
  open at the cut is closed there and opened again in the next part);
- with a chart whose text fits a photo caption (1,024 UTF-16 units after entity parsing): one photo
  with the text as its caption;
- with a chart and a longer text: the photo under the chart's own short caption (its title and
  source), then the text's messages.

The buttons go on the last part; text messages go without link previews. A chart already uploaded
once goes again by Telegram's file_id (``Photos``), not as its bytes.

Interactive answers send every part at once (``send``). The outbox stores the planned reply
(``planned``: JSON, the chart as base64, which the store keeps once per broadcast as a blob, see
bot/store/base.py) and its sender sends one part per claim (``send_part`` on ``Outgoing.of_payload``),
recording how many parts went in the item's ``parts_sent``. So ``/digest`` and the scheduled digest
make the same calls.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, PhotoSize
from telegram.constants import ParseMode

from bot.render.text import as_terminal_text
from bot.seam import Button, Reply

# Telegram's limit for one message (counted here in characters of the HTML source: never fewer than
# Telegram counts after parsing).
MESSAGE_LIMIT = 4096
# Telegram's limit for a photo caption, after entity parsing, in UTF-16 code units.
CAPTION_LIMIT = 1024
# Charts whose file_id is remembered (a few per snapshot and language: digests, /spread, chart buttons).
PHOTOS_KEPT = 512
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

_TOKEN = re.compile(r"<[^<>]*>|&#?\w+;|.", re.DOTALL)  # a tag, an entity or one character
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)")


def caption_length(html_text: str) -> int:
    """What Telegram counts against a caption's limit: the text after HTML parsing, in UTF-16 units."""
    return len(as_terminal_text(html_text).encode("utf-16-le")) // 2


def split_html(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """``text`` in messages of at most ``limit`` characters, split at line breaks (see the module)."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        *whole, current = _cut(line, limit)
        parts += whole
    if current:
        parts.append(current)
    return parts


def _closers(opened: Sequence[str]) -> str:
    return "".join(f"</{_TAG.match(tag)[2]}>" for tag in reversed(opened))  # type: ignore[index]


def _cut(line: str, limit: int) -> list[str]:
    """One line in pieces of at most ``limit`` characters, cut between tags, entities and characters;
    the tags open at a cut are closed at its end and opened again at the start of the next piece."""
    if len(line) <= limit:
        return [line]
    pieces: list[str] = []
    opened: list[str] = []
    current, reopened = "", 0  # opened: the opening tags in force at the end of current
    for token in _TOKEN.findall(line):
        tag = _TAG.match(token)
        after = opened[:-1] if tag and tag[1] else [*opened, token] if tag else opened
        if len(current) > reopened and len(current) + len(token) + len(_closers(after)) > limit:
            pieces.append(current + _closers(opened))
            current = "".join(opened)
            reopened = len(current)
        current += token
        opened = after
    pieces.append(current)
    return pieces


@dataclass(frozen=True)
class Part:
    """One Bot API call of a reply: a message, or (``photo``) the chart with ``text`` as its caption."""

    text: str
    photo: bool = False


@dataclass(frozen=True)
class Outgoing:
    """A reply worked out as its parts, its keyboard (on the last part) and its chart's sha256."""

    parts: tuple[Part, ...]
    markup: InlineKeyboardMarkup | None
    chart_key: str | None = None

    @classmethod
    def plan(cls, text: str, *, chart_key: str | None, caption: str | None,
             buttons: Sequence[Sequence[tuple[str, str]]]) -> Outgoing:
        markup = InlineKeyboardMarkup(
            [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in buttons]
        ) if buttons else None
        texts = tuple(Part(chunk) for chunk in split_html(text))
        if chart_key is None:
            return cls(texts, markup)
        if caption_length(text) <= CAPTION_LIMIT:
            return cls((Part(text, photo=True),), markup, chart_key)
        return cls((Part(caption or "", photo=True), *texts), markup, chart_key)

    @classmethod
    def of(cls, reply: Reply) -> Outgoing:
        chart = reply.chart
        return cls.plan(reply.text, chart_key=chart.key if chart else None,
                        caption=chart.caption if chart else None, buttons=_pairs(reply.buttons))

    @classmethod
    def of_payload(cls, payload: Mapping[str, Any]) -> Outgoing:
        """The parts of a planned reply as the outbox keeps it (see ``planned``)."""
        key = payload.get("photo_blob") or payload.get("photo_sha")
        if key is None and payload.get("photo_b64"):
            key = hashlib.sha256(base64.b64decode(payload["photo_b64"])).hexdigest()
        return cls.plan(str(payload.get("text") or ""), chart_key=key, caption=payload.get("caption"),
                        buttons=payload.get("buttons") or ())


def _pairs(buttons: Sequence[Sequence[Button]]) -> list[list[tuple[str, str]]]:
    return [[(b.label, b.data) for b in row] for row in buttons]


def planned(reply: Reply) -> dict[str, Any]:
    """A reply as the outbox keeps it (JSON): its text, its chart (base64, stored once per broadcast as
    a blob named by its sha256, see bot/store/base.py) with the chart's caption, its buttons as rows of
    [label, callback data]."""
    payload: dict[str, Any] = {"text": str(reply.text)}
    if reply.chart is not None:
        payload["photo_b64"] = base64.b64encode(reply.chart.png).decode()
        payload["caption"] = str(reply.chart.caption)
    if reply.buttons:
        payload["buttons"] = _pairs(reply.buttons)
    return payload


class Photos:
    """Telegram's PhotoSize of each chart already uploaded, by sha256: sent again by file_id. PTB sends a
    PhotoSize by its file_id as is, where a file_id string would first be looked up as a local path."""

    def __init__(self, kept: int = PHOTOS_KEPT) -> None:
        self.kept = kept
        self._sizes: dict[str, PhotoSize] = {}

    def get(self, key: str | None) -> PhotoSize | None:
        return self._sizes.get(key) if key else None

    def remember(self, key: str | None, message: object) -> None:
        sizes = getattr(message, "photo", None)
        if key and sizes:
            if len(self._sizes) >= self.kept:
                self._sizes.clear()
            self._sizes[key] = sizes[-1]


async def send_part(bot: Any, chat_id: int, outgoing: Outgoing, index: int, *, photos: Photos,
                    png: Callable[[], Awaitable[bytes]], reply_to: int | None = None) -> None:
    """Send part ``index`` of ``outgoing``; ``png`` gives the chart's bytes when it must be uploaded."""
    part = outgoing.parts[index]
    markup = outgoing.markup if index == len(outgoing.parts) - 1 else None
    if not part.photo:
        await bot.send_message(chat_id, part.text, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW,
                               reply_markup=markup, reply_to_message_id=reply_to)
        return
    known = photos.get(outgoing.chart_key)
    message = await bot.send_photo(chat_id, known or await png(), caption=part.text, parse_mode=ParseMode.HTML,
                                   reply_markup=markup, reply_to_message_id=reply_to)
    if known is None:
        photos.remember(outgoing.chart_key, message)


async def send(bot: Any, chat_id: int, reply: Reply, *, photos: Photos, reply_to: int | None = None) -> None:
    """Send every part of ``reply`` now (an interactive answer); the first one answers ``reply_to``."""
    outgoing = Outgoing.of(reply)
    chart = reply.chart

    async def png() -> bytes:
        assert chart is not None  # a photo part exists only for a reply with a chart
        return chart.png

    for index in range(len(outgoing.parts)):
        await send_part(bot, chat_id, outgoing, index, photos=photos, png=png,
                        reply_to=reply_to if index == 0 else None)
