# capgap bot image. CJK font for zh-Hant chart labels; tini as PID 1 so SIGTERM reaches the bot.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    MPLBACKEND=Agg \
    CAPGAP_DATA_DIR=/data

RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-cjk tini \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY jobs ./jobs
RUN pip install .

RUN useradd --create-home --uid 10001 capgap && mkdir -p /data && chown capgap /data
USER capgap
VOLUME ["/data"]

HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["capgap", "health"]

ENTRYPOINT ["tini", "--", "capgap"]
CMD ["run"]
