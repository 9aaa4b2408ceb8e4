# The API, the worker and the migration job share this image (docker-compose.yml).
# Only what production runs goes in: the production packages and the migrations, installed
# without extras (the embedded servers, test and benchmark tools are the `dev` extra).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md alembic.ini bootstrap.py ./
COPY migrations/ migrations/
COPY config/ config/
COPY domain/ domain/
COPY workflows/ workflows/
COPY activities/ activities/
COPY adapters/ adapters/
COPY api/ api/
COPY worker/ worker/
# Compose's migration job and worker healthcheck run `python -m devstack migrate` and
# `python -m devstack worker-health` from /app: the source only (pip does not install it, and
# none of the dev extra is installed; those commands need none of it).
COPY devstack/ devstack/
# /app stays the working directory so alembic.ini and migrations/ are found beside the code
RUN pip install . && useradd --create-home --uid 10001 app
USER app

EXPOSE 8000
# The app applies FORWARDED_ALLOW_IPS itself (api/app.py); uvicorn's own copy stays off. uvicorn
# drops websocket frames over 1 MiB before reading them whole; the app refuses smaller
# oversized ones with its own code (api/request_limits.py).
CMD ["uvicorn", "api.app:app", "--host", "0.0.0.0", "--port", "8000", "--no-proxy-headers", "--ws-max-size", "1048576"]
