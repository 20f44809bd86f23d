# syntax=docker/dockerfile:1
# The bot's image. Build: `docker build -t incident-bot .`; run: compose.example.yaml and
# docs/operators-guide.md ("Running it in a container").
#
# The base is pinned by digest, so a rebuild gets the same Python and Debian. To move to a
# newer one: `docker buildx imagetools inspect python:3.11-slim-bookworm` and put the
# index digest it prints here. (This digest is the OCI index of python:3.11.16-slim-bookworm;
# no registry is reachable from the machines this was written on, so it was checked against
# public Dockerfiles pinning the same digest, not pulled.)
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91

# -- build: a virtualenv holding exactly the lock file's packages ---------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.lock /tmp/requirements.lock
# Every package pinned and checked against its hash; --no-deps: nothing outside the lock.
RUN /opt/venv/bin/pip install --require-hashes --no-deps --only-binary=:all: \
      -r /tmp/requirements.lock
COPY docker/incident-bot /opt/venv/bin/incident-bot

# -- runtime ----------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
# git and an SSH client for the ops repository (clone and fast-forward over its deploy key).
# Debian's versions are not pinned: a point release drops the old ones from the archive and
# the build would break; the base digest fixes the release, `apt-get upgrade` is not run.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client \
 && rm -rf /var/lib/apt/lists/*
# A numeric user (Kubernetes' runAsNonRoot can check it) owning /data and nothing else.
RUN groupadd --system --gid 10001 bot \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin bot \
 && mkdir -p /data \
 && chown 10001:10001 /data \
 && chmod 0750 /data
COPY --from=build /opt/venv /opt/venv
# The source is read in place (the templates and migrations are found beside the code).
WORKDIR /app
COPY bot ./bot
COPY cogs ./cogs
COPY storage ./storage
COPY sandbox ./sandbox
COPY templates ./templates
COPY incident-bot.example.toml ./
# No secret is in the image: they come at run time (INCIDENT_BOT_*, or secrets_file).
# INCIDENT_BOT_WEBHOOK_HOST: in a container the webhook listens on every interface (the
# port is published, or not, by the container's network); the TOML's host is for a laptop.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/data \
    INCIDENT_BOT_WEBHOOK_HOST=0.0.0.0
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
# The alert webhook ([webhook] port): /alerts/*, /github/webhook, /healthz, /metrics.
EXPOSE 8766
# /healthz answers 503, naming the part, when the database, the gateway or a worker is down.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('INCIDENT_BOT_WEBHOOK_PORT', '8766'), timeout=4)"]
ENTRYPOINT ["incident-bot"]
CMD ["run", "--config", "/etc/incident-bot/incident-bot.toml"]
