# holdout: the API under gunicorn, as `make serve` runs it.
#   docker build -t holdout .
#   docker run -p 8000:8000 -v holdout-data:/var/lib/holdout holdout
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOLDOUT_BIND=0.0.0.0:8000 \
    HOLDOUT_INSTANCE_DIR=/var/lib/holdout \
    HOLDOUT_DATABASE_URL=sqlite:////var/lib/holdout/holdout.db

# The app runs as an unprivileged user; its data (SQLite database, secret key) in one volume.
RUN groupadd --system holdout \
    && useradd --system --gid holdout --no-create-home --home-dir /var/lib/holdout \
        --shell /usr/sbin/nologin holdout \
    && install -d -o holdout -g holdout -m 700 /var/lib/holdout

WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY grader ./grader
COPY question_bank ./question_bank
COPY migrations ./migrations
# As `make install` does, less the dev tools. Editable, so the app finds migrations/ beside service/.
RUN pip install --upgrade pip && pip install -e . && python -m compileall -q service grader question_bank

USER holdout
VOLUME ["/var/lib/holdout"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('HOLDOUT_BIND', '0.0.0.0:8000').rsplit(':', 1)[1]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]

# Migrate and load the bundled bank (both idempotent), then become gunicorn (PID 1 gets SIGTERM).
ENTRYPOINT ["/bin/sh", "-c", "holdout db upgrade && holdout bank load && exec gunicorn -c python:service.gunicorn_conf service.wsgi:app"]
