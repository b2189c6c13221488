# flux-remix: one app process (uvicorn) per container, running as an unprivileged user (10001).
# Build: docker build -t flux-remix .      Run: see compose.yaml and docs/deploy.md.
# Without a registry, or behind a proxy with its own CA: scripts/container-build (a local base
# from Debian's packages, and this host's pip index and CA for the build stages only).

# Any image with python3 (3.11 or newer) and its venv module; both stages use the same one.
ARG BASE_IMAGE=python:3.12-slim

# --- the dependency list, and pip's settings for this build ----------------------------------
# A stage of its own, so that the dependencies' layer below is reused until the list itself (or
# pip's settings) changes, not whenever anything else in pyproject.toml does.
FROM ${BASE_IMAGE} AS requirements
# pip's settings, when the build host needs them (an index, a CA bundle): scripts/container-build
# adds container-pip/{pip.conf,ca.crt} to the build context. They stay in the build stages: the
# runtime image copies only the virtual environment.
COPY pyproject.toml container-pi[p] /tmp/in/
RUN mkdir /tmp/out && cd /tmp/out \
    && python3 -c "import tomllib; p = tomllib.load(open('/tmp/in/pyproject.toml', 'rb')); \
open('requirements.txt', 'w').write('\n'.join(p['project']['dependencies'])); \
open('build-requirements.txt', 'w').write('\n'.join(p['build-system']['requires']))" \
    && find /tmp/in -maxdepth 1 -type f ! -name pyproject.toml -exec cp {} /tmp/out/ ';'

# --- build: the app and its dependencies in a virtual environment ------------------------------
FROM ${BASE_IMAGE} AS build
ENV PIP_CONFIG_FILE=/tmp/build/pip.conf \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=requirements /tmp/out/ /tmp/build/
RUN python3 -m venv /opt/flux-remix \
    && /opt/flux-remix/bin/pip install --quiet -r /tmp/build/requirements.txt \
    && python3 -m venv /opt/tools \
    && /opt/tools/bin/pip install --quiet -r /tmp/build/build-requirements.txt
COPY pyproject.toml README.md /tmp/build/
COPY src /tmp/build/src
# The project's wheel (built by the build backend installed above: no index needed from here),
# installed; then pip and setuptools go, as the running app needs neither (about 20 MB).
RUN /opt/tools/bin/pip wheel --quiet --no-deps --no-build-isolation --wheel-dir /tmp/dist /tmp/build \
    && /opt/flux-remix/bin/pip install --quiet --no-deps /tmp/dist/*.whl \
    && /opt/flux-remix/bin/pip uninstall --quiet --yes pip setuptools

# --- the runtime image ----------------------------------------------------------------------
FROM ${BASE_IMAGE}
ENV PATH=/opt/flux-remix/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FLUX_REMIX_DATA_DIR=/data \
    FLUX_REMIX_HOST=0.0.0.0 \
    FLUX_REMIX_PORT=8000 \
    LOG_FORMAT=json \
    FLUX_REMIX_SHUTDOWN_TIMEOUT=30
RUN groupadd --system --gid 10001 flux \
    && useradd --system --uid 10001 --gid flux --home-dir /data --shell /usr/sbin/nologin flux \
    && mkdir -p /data && chown flux:flux /data
COPY --from=build /opt/flux-remix /opt/flux-remix

USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000

# Liveness only (/healthz): a proxy or orchestrator should route by /readyz.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ['FLUX_REMIX_PORT'], timeout=2)"]

# SIGTERM (docker stop) drains in-flight generations for up to FLUX_REMIX_SHUTDOWN_TIMEOUT
# seconds: give the container a longer stop grace period than that (compose: stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["flux-remix"]
CMD ["serve"]
