"""An in-process Bot API: a PTB request object that answers every call at once, and update factories.

Used where the HTTP peer would only add noise: the latency benchmark and the hostile-input tests.
Every call is recorded, so tests can check what the bot sent.
"""

from __future__ import annotations

import json
from typing import Any

from telegram.request import RequestData

from tests.telegram_peer import OfflineRequest

BOT_USER = {"id": 999, "is_bot": True, "first_name": "capgap", "username": "capgap_bench_bot"}


class InstantRequest(OfflineRequest):
    """Answers every Bot API method at once with a well-formed result."""

    def __init__(self, *, record: bool = False) -> None:
        self._message_id = 0
        self.record = record
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None, **_: Any) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data is not None else {}
        if self.record:
            self.calls.append((endpoint, dict(params)))
        if endpoint == "getMe":
            result: Any = {**BOT_USER, "can_join_groups": True, "can_read_all_group_messages": False,
                           "supports_inline_queries": False}
        elif endpoint in ("sendMessage", "sendPhoto"):
            self._message_id += 1
            chat_id = int(params.get("chat_id", 1))
            result = {"message_id": self._message_id, "date": 1_700_000_000, "chat": {"id": chat_id, "type": "private"},
                      "from": BOT_USER}
            if endpoint == "sendPhoto":
                result["photo"] = [{"file_id": f"photo{self._message_id}", "file_unique_id": f"u{self._message_id}", "width": 800,
                                    "height": 420}]
            else:
                result["text"] = "ok"
        else:
            result = True
        return 200, json.dumps({"ok": True, "result": result}).encode()



def update_for(text: str, update_id: int, *, chat_id: int = 4242, lang: str = "en") -> dict[str, Any]:
    """A private-chat message update; a leading command gets its bot_command entity."""
    user = {"id": chat_id, "is_bot": False, "first_name": "Bench", "language_code": lang}
    entities = ([{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
                if text.startswith("/") and text.split() else [])
    return {
        "update_id": update_id,
        "message": {"message_id": update_id, "date": 1_700_000_000, "chat": {"id": chat_id, "type": "private"},
                    "from": user, "text": text, "entities": entities},
    }


def group_update_for(text: str, update_id: int, *, chat_id: int = -1001, user_id: int = 31, lang: str = "en",
                     reply_to_bot: bool = False) -> dict[str, Any]:
    """A supergroup message update from ``user_id``, optionally a reply to one of the bot's messages."""
    update = update_for(text, update_id, chat_id=chat_id, lang=lang)
    message = update["message"]
    message["chat"] = {"id": chat_id, "type": "supergroup", "title": "Small caps club"}
    message["from"] = {"id": user_id, "is_bot": False, "first_name": "Member", "language_code": lang}
    if reply_to_bot:
        message["reply_to_message"] = {"message_id": 1, "date": 1_700_000_000, "chat": message["chat"], "from": BOT_USER,
                                       "text": "x"}
    return update


def callback_for(data: str, update_id: int, *, chat_id: int = 4242, message_id: int = 1,
                 message: dict[str, Any] | None = None) -> dict[str, Any]:
    """A callback_query update on a message the bot sent (``message``: that message as Telegram has it,
    with its keyboard; a plain text message by default)."""
    user = {"id": chat_id, "is_bot": False, "first_name": "Bench", "language_code": "en"}
    if message is None:
        message = {"message_id": message_id, "date": 1_700_000_000, "chat": {"id": chat_id, "type": "private"}, "from": BOT_USER,
                   "text": "x"}
    return {"update_id": update_id, "callback_query": {"id": str(update_id), "from": user, "chat_instance": "1",
                                                       "message": message, "data": data}}
