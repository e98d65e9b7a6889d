# news-monitor worker. Build: docker build -t news-monitor .
# Run:   docker compose up -d   (see docker-compose.yml and the README's Docker section)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY watchlists ./watchlists
COPY seeds ./seeds
COPY config.example.toml ./
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /data monitor \
    && mkdir -p /data /config \
    && chown monitor /data

# The database and the digest pages live in /data; mount the config read-only at
# /config/config.toml (its relative paths resolve against /config, so point
# [storage] path and [digest] html_dir at /data explicitly).
VOLUME ["/data"]
USER monitor
WORKDIR /data

HEALTHCHECK --interval=5m --timeout=30s --start-period=2m --retries=3 \
    CMD ["monitor", "status", "--config", "/config/config.toml", "--check"]

ENTRYPOINT ["monitor"]
CMD ["run", "--config", "/config/config.toml"]
