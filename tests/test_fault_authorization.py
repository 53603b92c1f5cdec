"""Authorisation and secrets: operators only where it says so, webhook updates need the secret token,
and the bot token never reaches a log line."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from datetime import date
from pathlib import Path

import httpx

from tests.e2e import clock_at_close, running_bot
from tests.telegram_peer import TelegramPeer

REPO = Path(__file__).resolve().parent.parent
DAY = date(2026, 2, 20)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_status_refuses_users_who_are_not_operators(tmp_path: Path) -> None:
    peer = TelegramPeer()
    async with running_bot(peer, tmp_path, clock=clock_at_close(DAY), admin_ids=(7,)):
        peer.inject_message(3001, "/status", user_id=3001)
        refused = await peer.wait_for(lambda c: c.chat_id == 3001, timeout=10)
        assert "operators only" in refused.text
        peer.inject_message(7, "/status", user_id=7)
        allowed = await peer.wait_for(lambda c: c.chat_id == 7, timeout=10)
        assert "capgap status" in allowed.text


async def test_webhook_rejects_updates_without_the_secret_token(tmp_path: Path) -> None:
    secret = "s3cret_token-123"
    peer = TelegramPeer()
    async with running_bot(peer, tmp_path, clock=clock_at_close(DAY), poll=False) as bot:
        port = free_port()
        updater = bot.application.updater
        assert updater is not None
        url = f"http://127.0.0.1:{port}/hook"
        await updater.start_webhook(listen="127.0.0.1", port=port, url_path="hook", webhook_url=url, secret_token=secret)
        try:
            update = {"update_id": 1, "message": {"message_id": 1, "date": 1, "chat": {"id": 3002, "type": "private"},
                                                  "from": {"id": 3002, "is_bot": False, "first_name": "A"}, "text": "/help",
                                                  "entities": [{"type": "bot_command", "offset": 0, "length": 5}]}}
            async with httpx.AsyncClient() as client:
                missing = await client.post(url, json=update)
                wrong = await client.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"})
                assert missing.status_code == 403 and wrong.status_code == 403
                await asyncio.sleep(0.3)  # the bot would have answered by now; it must not
                assert peer.messages_to(3002) == []
                good = await client.post(url, json={**update, "update_id": 2},
                                         headers={"X-Telegram-Bot-Api-Secret-Token": secret})
                assert good.status_code == 200
            await peer.wait_for(lambda c: c.chat_id == 3002 and "capgap commands" in (c.text or ""), timeout=10)
        finally:
            await updater.stop()


def capgap_run_output(env: dict[str, str], cwd: Path) -> str:
    """Everything `capgap run` prints in 12 s (it keeps retrying a failing Telegram, so it is stopped then)."""
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=12)
    except subprocess.TimeoutExpired:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    return out


async def test_token_never_appears_in_logs_of_a_failing_run(tmp_path: Path) -> None:
    """Run `capgap run` against a peer that fails every call, capture everything it logs, grep the token."""
    async with TelegramPeer() as peer:
        peer.fail_next(10_000, 500, "Internal Server Error", methods=None)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAPGAP_")}
        env.update({
            "CAPGAP_TELEGRAM_TOKEN": peer.token,
            "CAPGAP_TELEGRAM_BASE_URL": peer.base_url,
            "CAPGAP_DATA_DIR": str(tmp_path),
            "CAPGAP_REFRESH_ENABLED": "false",
            "CAPGAP_LOG_LEVEL": "DEBUG",
            "PYTHONPATH": str(REPO),
        })
        out = await asyncio.to_thread(capgap_run_output, env, tmp_path)  # the peer serves on this loop meanwhile
    assert out.strip(), "the failing run logged nothing: the test would prove nothing"
    assert ("500" in out or "Internal Server Error" in out or "Error" in out), out[-2000:]
    assert peer.token not in out
    assert peer.token.split(":")[1] not in out
