# Mimic's image: `mimic serve` by default; the same image runs every other process
# (`migrate`, `worker`, `scheduler`, `telegram`), see compose.yaml.
#
# BASE_IMAGE: any Debian-like image with python3 (3.11+), python3-venv and useradd.
ARG BASE_IMAGE=python:3.11-slim-bookworm

# Build: the locked dependencies into /app/.venv (uv.lock, exactly; no dev tools).
FROM ${BASE_IMAGE} AS build
ARG UV_VERSION=0.13.9
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /app
# Dependencies first: a change to the code alone reuses this layer.
COPY pyproject.toml uv.lock README.md LICENSE ./
RUN /opt/uv/bin/uv sync --locked --no-install-project --no-cache
COPY src ./src
COPY alembic ./alembic
COPY alembic.ini ./
RUN /opt/uv/bin/uv sync --locked --no-cache

# Runtime: the venv, the code and the migrations; no compiler, no uv, no pip cache.
FROM ${BASE_IMAGE} AS runtime
RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin mimic \
    && mkdir -p /var/lib/mimic \
    && chown mimic:mimic /var/lib/mimic
WORKDIR /app
COPY --from=build /app /app
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MIMIC_HOST=0.0.0.0 \
    MIMIC_VAR_DIR=/var/lib/mimic
USER mimic
EXPOSE 8000
VOLUME ["/var/lib/mimic"]
ENTRYPOINT ["mimic"]
CMD ["serve"]
