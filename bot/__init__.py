"""capgap: a Telegram bot for the US small-cap vs large-cap story."""
