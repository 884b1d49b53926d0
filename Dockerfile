# MedFit production image: gunicorn serves clinic.wsgi on :8000; the same image runs the Celery
# worker and beat (see docker-compose.yml). Configuration comes from the environment only.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=clinic.settings

# WeasyPrint's runtime libraries (PDF reports) and a font to render them with.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 medfit \
    && useradd --system --uid 10001 --gid medfit --create-home --home-dir /home/medfit \
        --shell /usr/sbin/nologin medfit

WORKDIR /app

# Dependencies first, in their own layer, so a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
# The code runs from /app (PYTHONPATH), where templates/ and static/ live beside the packages.
RUN pip install --no-deps . \
    && rm -rf build ./*.egg-info \
    && SECRET_KEY=collectstatic-only-not-a-real-key DEBUG=0 python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p /app/.data/private \
    && chown -R medfit:medfit /app/.data

# /app/.data holds uploaded files and Celery beat's schedule: mount a volume there to keep them.
USER medfit
EXPOSE 8000
# WEB_CONCURRENCY worker processes (gunicorn reads it; one per core), each with 4 threads: a thread waiting for
# PostgreSQL leaves the core to another. The load test measures this shape (docs/architecture.md, "Speed").
CMD ["gunicorn", "clinic.wsgi", "--bind", "0.0.0.0:8000", "--threads", "4", "--graceful-timeout", "10"]
