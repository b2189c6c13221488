# flux-remix: one app process (uvicorn) per container, running as an unprivileged user.
# Build: docker build -t flux-remix .      Run: see compose.yaml and docs/deploy.md.

# --- build a wheel --------------------------------------------------------------------------
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --disable-pip-version-check --no-deps --wheel-dir /dist .

# --- the runtime image ----------------------------------------------------------------------
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    FLUX_REMIX_DATA_DIR=/data \
    LOG_FORMAT=json \
    FLUX_REMIX_SHUTDOWN_TIMEOUT=30
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin flux \
    && mkdir -p /data && chown flux:flux /data
COPY --from=build /dist/*.whl /tmp/
RUN pip install --disable-pip-version-check /tmp/*.whl && rm /tmp/*.whl

USER flux
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000

# Liveness only (/healthz): a proxy or orchestrator should route by /readyz.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]

# SIGTERM (docker stop) drains in-flight generations for up to FLUX_REMIX_SHUTDOWN_TIMEOUT
# seconds: give the container a longer stop grace period than that (compose: stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["flux-remix"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
