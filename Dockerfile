# Driftline worker image. Build from the repository root:
#
#   docker build -t driftline:dev .
#   docker run --rm -e DRIFTLINE_KAFKA_BOOTSTRAP=kafka:19092 -p 127.0.0.1:6066:6066 driftline:dev
#
# ENTRYPOINT is the `driftline` command and CMD its `worker` subcommand, so the same image runs
# any other subcommand too (`docker run driftline:dev topics create`). Settings come from
# DRIFTLINE_* variables (README, "Configuration"). tests/unit/deploy/test_dockerfile.py lints
# this file with hadolint, and tests/integration/test_container_entrypoint.py runs its
# ENTRYPOINT + CMD with its ENV on the host, as the container would.

# One base for both stages: the virtualenv built in the first is copied into the second, and
# its interpreter links point at the base image's /usr/local/bin/python3.11.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: a virtualenv with Driftline and its dependencies -----------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# Every dependency ships a manylinux wheel for CPython 3.11 (faust-streaming, aiokafka,
# rocksdict, numpy, scipy, pyarrow, orjson, ...), so this stage needs no compiler either.
RUN python -m venv /opt/driftline
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY schemas ./schemas
# A regular (non-editable) install: the wheel carries app/ and the JSON schemas (app/_schemas).
RUN /opt/driftline/bin/pip install /src

# --- runtime: the virtualenv on a slim base, as a non-root user ----------------------------
FROM ${PYTHON_IMAGE}

# A fixed uid/gid, so volume ownership (fsGroup on Kubernetes) can name it.
RUN groupadd --system --gid 10001 driftline \
    && useradd --system --uid 10001 --gid driftline --home-dir /var/lib/driftline \
       --shell /usr/sbin/nologin driftline \
    && mkdir -p /var/lib/driftline/data \
    && chown -R driftline:driftline /var/lib/driftline

COPY --from=builder /opt/driftline /opt/driftline

# DRIFTLINE_WEB_HOST: inside a container the web server must listen on every interface, or
# neither the port mapping, the HEALTHCHECK's neighbours nor Kubernetes probes reach it (the
# default outside containers stays 127.0.0.1). DRIFTLINE_DATA_DIR: the worker's RocksDB state,
# the place to mount a volume. MALLOC_MMAP_THRESHOLD_: a fixed glibc mmap threshold, so
# multi-MB fetch responses and producer batches go back to the system when freed instead of
# staying in the heap (glibc raises the threshold after freeing one); a flood of 300,000
# dead letters then grew RSS 5 MiB instead of 13-29 (README, "Benchmarks").
ENV PATH=/opt/driftline/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MALLOC_MMAP_THRESHOLD_=131072 \
    PYTHONDONTWRITEBYTECODE=1 \
    DRIFTLINE_WEB_HOST=0.0.0.0 \
    DRIFTLINE_WEB_PORT=6066 \
    DRIFTLINE_DATA_DIR=/var/lib/driftline/data

USER 10001:10001
WORKDIR /var/lib/driftline
EXPOSE 6066

# No curl in a slim image: the image's own Python asks /health (urlopen raises on anything
# but a 2xx, so the exit code is the answer).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('DRIFTLINE_WEB_PORT', '6066') + '/health', timeout=4)"]

ENTRYPOINT ["driftline"]
CMD ["worker"]
