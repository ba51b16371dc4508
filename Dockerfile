# syntax=docker/dockerfile:1
#
# One image for both livegrid roles (docs/operations.md):
#   replica: livegrid app --port 5006 --address 0.0.0.0   (the default CMD)
#   worker:  livegrid worker --metrics-port 9100
#
# The base is pinned by tag only: the machines this repository is built and
# tested on cannot reach Docker Hub to resolve a digest. Pin one where you build:
#   docker build --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:<digest> .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- builder: a venv with livegrid and its dependencies (all from wheels) ----
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY livegrid/ livegrid/
COPY worker/ worker/
COPY app/ app/

# Build livegrid's own wheel first, so the venv holds an installed package and
# no source tree; its dependencies resolve from PyPI wheels (no compiler needed).
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/livegrid \
 && /opt/livegrid/bin/python -m pip install /wheels/livegrid-*.whl \
 && /opt/livegrid/bin/livegrid --help > /dev/null

# ---- final: the base image plus the venv, run as an unprivileged user ----
FROM ${PYTHON_IMAGE}

LABEL org.opencontainers.image.title="livegrid" \
      org.opencontainers.image.description="livegrid replica (livegrid app) and worker (livegrid worker)" \
      org.opencontainers.image.licenses="BSD-3-Clause"

# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot can verify it.
RUN groupadd --system --gid 10001 livegrid \
 && useradd --system --uid 10001 --gid livegrid --home-dir /home/livegrid \
            --create-home --shell /usr/sbin/nologin livegrid

COPY --from=builder /opt/livegrid /opt/livegrid

# HEALTHCHECK_URL: the replica's /healthz by default; a worker container sets
# it to its --metrics-port (e.g. http://127.0.0.1:9100/healthz). Kubernetes
# ignores HEALTHCHECK and uses the chart's probes instead.
ENV PATH=/opt/livegrid/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LIVEGRID_LOG_FORMAT=json \
    HEALTHCHECK_URL=http://127.0.0.1:5006/healthz

USER 10001:10001
WORKDIR /home/livegrid
EXPOSE 5006 9100

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['HEALTHCHECK_URL'], timeout=4)"]

ENTRYPOINT ["livegrid"]
CMD ["app", "--address", "0.0.0.0"]
