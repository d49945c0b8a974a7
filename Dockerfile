# refiapp image: one image for the release step, the web tier and the workers (docs/deploy.md).
# Not built in CI: CI runs the same scripts (scripts/release, scripts/web, scripts/worker) on the machine itself
# (scripts/ci_production). Build: docker build -t refiapp .
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHON=/opt/venv/bin/python \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv
WORKDIR /app
COPY requirements.txt .
RUN /opt/venv/bin/pip install -r requirements.txt

COPY . .
# Static files belong to the image (every web container serves the same hashed names); no secret is kept.
RUN DEBUG=0 SECRET_KEY=collectstatic-at-build-only FIELD_ENCRYPTION_KEY=Y29sbGVjdHN0YXRpYy1hdC1idWlsZC1vbmx5LWtleSE= \
    STATIC_ROOT=/app/staticfiles python manage.py collectstatic --noinput \
    && python -m compileall -q /app
RUN useradd --system --home /app --shell /usr/sbin/nologin refiapp \
    && mkdir -p /var/lib/refiapp/media \
    && chown -R refiapp /var/lib/refiapp /app/staticfiles
USER refiapp

ENV MEDIA_ROOT=/var/lib/refiapp/media \
    STATIC_ROOT=/app/staticfiles \
    PORT=8000
EXPOSE 8000
# /healthz, asked with the first allowed host name (Django refuses hosts not in ALLOWED_HOSTS).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s CMD ["python", "scripts/healthcheck.py"]

# The web tier by default; `scripts/release` and `scripts/worker` are the other two commands.
CMD ["scripts/web"]
