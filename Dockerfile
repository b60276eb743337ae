# holdout: the API under gunicorn, as `make serve` runs it.
#   docker build -t holdout .
# Scaled out (the web processes stay unprivileged; only graders get the sandbox's privileges):
#   docker run -p 8000:8000 -e HOLDOUT_DATABASE_URL=postgresql://... -e HOLDOUT_BROKER_URL=redis://... holdout
#   docker run --user root --cap-add SYS_ADMIN -e HOLDOUT_DATABASE_URL=... -e HOLDOUT_BROKER_URL=... \
#       --entrypoint holdout holdout worker
# All in one container (embedded grading: the web process forks the sandbox, so it needs them):
#   docker run --user root --cap-add SYS_ADMIN -p 8000:8000 -v holdout-data:/var/lib/holdout holdout
# SYS_ADMIN is for the sandbox's namespaces; switching to its uids needs SETUID and SETGID, which
# Docker grants by default. Without them the grader refuses to grade, and /readyz says why.
# The pages serve KaTeX themselves (no CDN): fetched from the npm registry, as `make install` does.
FROM node:20-slim AS assets
ARG KATEX_VERSION=0.19.1
RUN cd /tmp && npm pack --silent katex@${KATEX_VERSION} && tar -xzf katex-${KATEX_VERSION}.tgz \
    && mkdir -p /katex && cp -r package/dist/katex.min.js package/dist/katex.min.css \
        package/dist/fonts package/LICENSE /katex/

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
COPY pyproject.toml README.md requirements.lock ./
COPY service ./service
COPY grader ./grader
COPY question_bank ./question_bank
COPY migrations ./migrations
COPY --from=assets /katex ./service/pages/static/vendor/katex
# As `make install` does: the pinned runtime (no dev tools), then holdout itself. Editable, so the
# app finds migrations/ beside service/.
RUN pip install --upgrade pip && pip install -r requirements.lock && pip install --no-deps -e . \
    && python -m compileall -q service grader question_bank

USER holdout
VOLUME ["/var/lib/holdout"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('HOLDOUT_BIND', '0.0.0.0:8000').rsplit(':', 1)[1]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]

# Migrate and load the bundled bank (both idempotent), then become gunicorn (PID 1 gets SIGTERM).
ENTRYPOINT ["/bin/sh", "-c", "holdout db upgrade && holdout bank load && { holdout bank warm || true; } && exec gunicorn -c python:service.gunicorn_conf service.wsgi:app"]
