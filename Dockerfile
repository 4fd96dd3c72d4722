# syntax=docker/dockerfile:1
#
# One image runs every Semantik service: `docker run IMAGE <module>` with <module> one of
# collections_service, ingest_service, embedder_service, search_service, gateway_service
# (ENTRYPOINT is `python -m`), or `semantik` for the CLI (`--entrypoint semantik`).
#
# Targets:
#   runtime        (default) CPU build, torch from the PyTorch CPU wheel index.
#   embedder-cuda  the embedder with the CUDA build of torch (the default PyPI wheel).
#                  Also on python:3.11-slim rather than an nvidia/cuda base: the torch
#                  wheel brings its own CUDA libraries, the host (NVIDIA Container
#                  Toolkit) the driver, and no nvidia/cuda image ships Python 3.11.
#
#   docker build -t semantik:0.1.0 .
#   docker build --target embedder-cuda -t semantik-embedder-cuda:0.1.0 .

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG TORCH_VERSION=2.13.0
ARG TORCH_CPU_INDEX_URL=https://download.pytorch.org/whl/cpu

# --------------------------------------------------------------------------- base
FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# --------------------------------------------------------------------------- venv
# An empty virtual environment with current packaging tools; the torch stages below
# differ only in which torch build they put into it.
FROM base AS venv
RUN python -m venv "$VIRTUAL_ENV" \
 && pip install "pip>=24,<26" "setuptools>=68,<81" "wheel>=0.43,<1"

FROM venv AS torch-cpu
ARG TORCH_VERSION
ARG TORCH_CPU_INDEX_URL
# The CPU index serves torch and its dependencies; `==X` also matches `X+cpu`.
RUN pip install --index-url "$TORCH_CPU_INDEX_URL" "torch==${TORCH_VERSION}"

FROM venv AS torch-cuda
ARG TORCH_VERSION
# The Linux wheel on PyPI is the CUDA build; it brings the CUDA runtime libraries as
# nvidia-* wheels, so the image needs only the host's driver (NVIDIA Container Toolkit).
RUN pip install "torch==${TORCH_VERSION}"

# --------------------------------------------------------------------------- web UI
# The single-page app (web/), built with the lock file's packages into the gateway
# package's static/app, which the gateway serves at /.
FROM node:20-bookworm-slim AS web
ENV PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
# npm 11, as on the machines the lock file is made and tested on (vite 8 has been seen
# not to install with the npm 10 that node:20 ships).
RUN npm install -g npm@11.19.1 && npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# --------------------------------------------------------------------------- sources
# The package manifests alone: the dependency layer below is rebuilt only when one of
# them (or the constraints) changes, not on every code change.
FROM base AS manifests
WORKDIR /src
COPY constraints.txt pyproject.toml ./
COPY libs/contracts/pyproject.toml libs/contracts/
COPY libs/runtime/pyproject.toml libs/runtime/
COPY services/collections/pyproject.toml services/collections/
COPY services/ingest/pyproject.toml services/ingest/
COPY services/embedder/pyproject.toml services/embedder/
COPY services/search/pyproject.toml services/search/
COPY services/gateway/pyproject.toml services/gateway/
RUN mkdir -p src

# Everything the packages are built from; see .dockerignore.
FROM base AS source
WORKDIR /src
COPY constraints.txt pyproject.toml ./
COPY libs/ libs/
COPY services/ services/
COPY src/ src/
COPY --from=web /src/services/gateway/gateway_service/static/app services/gateway/gateway_service/static/app

# --------------------------------------------------------------------------- builders
# Step 1 installs the third-party dependencies (the manifests are enough to resolve
# them), step 2 the project's own packages without dependencies. Regular, non-editable
# installs, pinned by the same constraints file as `make setup`.
FROM torch-cpu AS builder
COPY --from=manifests /src /src
RUN pip install -c /src/constraints.txt \
      /src/libs/contracts /src/libs/runtime \
      /src/services/collections /src/services/ingest /src/services/embedder \
      /src/services/search /src/services/gateway /src
COPY --from=source /src /src
RUN pip install --no-deps --force-reinstall \
      /src/libs/contracts /src/libs/runtime \
      /src/services/collections /src/services/ingest /src/services/embedder \
      /src/services/search /src/services/gateway /src \
 && python -c "import torch; assert not torch.version.cuda, torch.version.cuda" \
 && pip check

FROM torch-cuda AS builder-cuda
COPY --from=manifests /src /src
RUN pip install -c /src/constraints.txt \
      /src/libs/contracts /src/libs/runtime \
      /src/services/collections /src/services/ingest /src/services/embedder \
      /src/services/search /src/services/gateway /src
COPY --from=source /src /src
RUN pip install --no-deps --force-reinstall \
      /src/libs/contracts /src/libs/runtime \
      /src/services/collections /src/services/ingest /src/services/embedder \
      /src/services/search /src/services/gateway /src \
 && python -c "import torch; assert torch.version.cuda, 'not a CUDA build'" \
 && pip check

# --------------------------------------------------------------------------- runtime base
FROM base AS runtime-base
# Fixed numeric ids: Kubernetes' runAsNonRoot can only verify a numeric USER.
RUN groupadd --system --gid 10001 semantik \
 && useradd --system --uid 10001 --gid semantik --home-dir /home/semantik \
      --create-home --shell /usr/sbin/nologin semantik \
 && mkdir -p /data /sources /models \
 && chown semantik:semantik /data /models
# DL3064 reads TOKENIZERS_PARALLELISM as a secret ("TOKEN"); nothing here is one.
# SEMANTIK_CACHE_DIR is empty: a container has one data dir, which keeps a model's int8
# export; a machine cache would only add a copy to /tmp (memory, under compose's tmpfs).
# hadolint ignore=DL3064
ENV SEMANTIK_DATA_DIR=/data \
    SEMANTIK_CACHE_DIR= \
    SEMANTIK_HOST=0.0.0.0 \
    SEMANTIK_PORT=8080 \
    SEMANTIK_SOURCE_ROOTS=/sources \
    SEMANTIK_MODELS_DIR=/models \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    XDG_CACHE_HOME=/tmp/.cache \
    HF_HOME=/tmp/.cache/huggingface
WORKDIR /home/semantik
EXPOSE 8080 8081
# The gateway answers /health on SEMANTIK_PORT; every other service on
# SEMANTIK_HEALTH_PORT (compose and Kubernetes set it to 8081 for them).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; hp = os.environ.get('SEMANTIK_HEALTH_PORT', ''); port = hp if hp not in ('', '0') else os.environ.get('SEMANTIK_PORT', '8080'); urllib.request.urlopen(f'http://127.0.0.1:{port}/health', timeout=4)"]
ENTRYPOINT ["python", "-m"]
CMD ["gateway_service"]

# --------------------------------------------------------------------------- targets
FROM runtime-base AS embedder-cuda
COPY --from=builder-cuda /opt/venv /opt/venv
ENV SEMANTIK_EMBED_DEVICE=cuda \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
USER 10001:10001
CMD ["embedder_service"]

# Last, so that a plain `docker build .` gives the CPU image.
# SEMANTIK_EMBED_DEVICE stays unset: the embedder then picks CUDA if present, else CPU.
FROM runtime-base AS runtime
COPY --from=builder /opt/venv /opt/venv
USER 10001:10001
