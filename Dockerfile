# capgap bot image. tini as PID 1 so SIGTERM reaches the bot. No system fonts: zh-Hant chart labels use the
# CJK subset shipped in bot/fonts/, the same font CI tests with.
# An exact tag (Python patch release and Debian release): a rebuild gets the same interpreter and libc.
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLBACKEND=Agg \
    CAPGAP_DATA_DIR=/data

# tini's Debian source version is pinned; the glob accepts the per-architecture rebuild suffix (+bN).
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini=0.19.0-1* \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Dependencies first, from the lock file only (hash-checked): this layer is rebuilt when
# requirements.txt changes, not on every code change.
COPY requirements.txt ./
RUN pip install --no-cache-dir --require-hashes -r requirements.txt

# The project on top, without re-resolving, built by the locked setuptools.
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY jobs ./jobs
RUN pip install --no-cache-dir --no-deps --no-build-isolation . \
    && rm -rf build ./*.egg-info

# A numeric uid:gid, so the runtime (and Kubernetes' runAsNonRoot) can tell it is not root.
RUN groupadd --gid 10001 capgap \
    && useradd --uid 10001 --gid 10001 --create-home capgap \
    && mkdir -p /data && chown 10001:10001 /data
USER 10001:10001
VOLUME ["/data"]

HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["capgap", "health"]

ENTRYPOINT ["tini", "--", "capgap"]
CMD ["run"]
