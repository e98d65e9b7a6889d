# news-monitor worker. Build: docker build -t news-monitor .
# Run:   docker compose up -d   (see docker-compose.yml and the README's Docker section)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NEWS_MONITOR_CACHE=/data/cache

WORKDIR /app
# Pinned dependencies first (their layer is reused while only the code changes), then the
# package itself without resolving anything again: the same versions every build.
COPY requirements.lock ./
RUN pip install --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY monitor ./monitor
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --home-dir /data monitor \
    && mkdir -p /data /config \
    && chown monitor /data

# seeds/ beside the working folder, where `monitor seeds suggest` looks by default;
# a default config (database and pages in /data) and the shipped watchlists in /config,
# both of which a deployment may mount over, read-only.
COPY seeds ./seeds
COPY docker/config.toml /config/config.toml
COPY watchlists /config/watchlists

VOLUME ["/data"]
USER 10001

HEALTHCHECK --interval=5m --timeout=30s --start-period=2m --retries=3 \
    CMD ["monitor", "status", "--config", "/config/config.toml", "--check"]

ENTRYPOINT ["monitor"]
CMD ["run", "--config", "/config/config.toml"]
