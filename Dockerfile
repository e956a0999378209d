# One image for web, ws, worker and beat (docker-compose.yml). Production settings come from the environment.
# Front-end libraries from npm (package-lock.json), copied to var/vendor by `npm run vendor`: no CDN at run time.
FROM node:20-slim AS frontend
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error && npm run --silent vendor

FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_ENV=production \
    QUORUM_VAR_DIR=/app/var \
    STATIC_ROOT=/app/staticfiles

WORKDIR /app
RUN useradd --create-home --uid 10001 quorum

COPY requirements/base.lock requirements/base.lock
RUN pip install -r requirements/base.lock

COPY . .
COPY --from=frontend /build/var/vendor /app/var/vendor
# collectstatic needs settings that pass the production checks; these values exist only during the build.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
    ALLOWED_HOSTS=build.invalid DATABASE_URL=postgres://build.invalid/build REDIS_URL=redis://build.invalid \
    python manage.py collectstatic --no-input -v 0 \
    && mkdir -p /app/var && chown -R quorum /app/var

USER quorum
EXPOSE 8000
CMD ["granian", "--interface", "wsgi", "--host", "0.0.0.0", "--port", "8000", "--workers", "2", "--blocking-threads", "8", "config.wsgi:application"]
