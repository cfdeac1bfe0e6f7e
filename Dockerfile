FROM python:3.11-slim-bookworm
# unixodbc for pyodbc when DATABASE_URL points at SQL Server; openssh-client for ssh-keygen.
RUN apt-get update && apt-get install -y --no-install-recommends unixodbc openssh-client \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY hacontrol ./hacontrol
RUN pip install --no-cache-dir .
COPY . .
RUN SECRET_KEY=build DATABASE_URL=postgres://build@localhost/build python manage.py collectstatic --noinput \
    && mkdir -p /app/var/installers && chown nobody /app/var/installers
USER nobody
EXPOSE 8000
# Every start (web, worker, migrate) passes `manage.py check --deploy` first.
ENTRYPOINT ["/app/scripts/entrypoint"]
CMD ["gunicorn", "hacontrol.wsgi", "--bind", "0.0.0.0:8000", "--config", "gunicorn.conf.py"]
