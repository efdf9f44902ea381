# syntax=docker/dockerfile:1
# One image for the four services, the one-shot setup commands and the ops CLI.
#
#   docker build -t aftercare:0.1.0 .
#   docker run aftercare:0.1.0 uvicorn --factory aftercare_intake.app:create_app --host 0.0.0.0 --port 8000
#   docker run aftercare:0.1.0 python -m aftercare_shared.topics          # one-shot: topics
#   docker run aftercare:0.1.0 python -m aftercare_shared.migrate         # one-shot: migrations
#   docker run aftercare:0.1.0 aftercare stack status                     # the ops CLI
#
# The service is chosen by the command (deploy/compose.yaml, deploy/k8s/services.yaml).

ARG PYTHON_VERSION=3.11

# --- build: resolve the locked workspace into /app/.venv with uv -------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
RUN pip install --no-cache-dir uv==0.13.9
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies first (a layer that changes only with uv.lock), then the workspace itself.
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/pyproject.toml
COPY services/intake/pyproject.toml services/intake/pyproject.toml
COPY services/sla/pyproject.toml services/sla/pyproject.toml
COPY services/releases/pyproject.toml services/releases/pyproject.toml
COPY services/notify/pyproject.toml services/notify/pyproject.toml
COPY cli/pyproject.toml cli/pyproject.toml
RUN uv sync --frozen --no-dev --no-install-workspace
COPY shared shared
COPY services services
COPY cli cli
RUN uv sync --frozen --no-dev --no-editable

# --- runtime: the virtualenv only, run by an unprivileged user ---------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 aftercare \
    && useradd --system --uid 10001 --gid aftercare --home-dir /app --shell /usr/sbin/nologin aftercare
WORKDIR /app
COPY --from=build --chown=aftercare:aftercare /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    AFTERCARE_LOG_FORMAT=json
USER 10001:10001
EXPOSE 8000
# No default service: the command names one (see the top of this file).
CMD ["aftercare", "--help"]
