"""hacontrol's settings: every value comes from the environment (see README "Configuration")."""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from hacontrol.lib.env import envbool, envheader, envint, envlist, envnetworks, envsecret, parse_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

DEBUG = envbool("DEBUG", False)
SECRET_KEY = envsecret("SECRET_KEY")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set; `make run` makes one")
# Fernet keys that encrypt stored credentials, newest first (older ones still decrypt, for
# rotation); without them a key is derived from SECRET_KEY.
HACONTROL_SECRET_KEYS = [
    key.strip() for key in (envsecret("HACONTROL_SECRET_KEY") or "").split(",") if key.strip()
]
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "django_tasks",
    "django_tasks_db",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "hacontrol.ha",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "hacontrol.ha.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "hacontrol.urls"
WSGI_APPLICATION = "hacontrol.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "hacontrol.ha.access.access_context",
            ],
        },
    },
]

_database_url = envsecret("DATABASE_URL")
if not _database_url:
    from hacontrol.embedded_db import embedded_database_url

    _database_url = embedded_database_url(VAR_DIR / "pgdata")
DATABASES = {"default": parse_database_url(_database_url)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {
    "default": {
        "BACKEND": envsecret("TASKS_BACKEND") or "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "cluster-list"
LOGOUT_REDIRECT_URL = "login"
# Sessions read from a per-process cache, written through to the database.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", 8 * 3600, minimum=60)
SESSION_COOKIE_HTTPONLY = True
SECURE_COOKIES = envbool("SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
if envbool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

EMAIL_BACKEND = envsecret("EMAIL_BACKEND") or "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = envsecret("EMAIL_HOST") or "localhost"
EMAIL_PORT = envint("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = envsecret("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = envsecret("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = envint("HACONTROL_NOTIFY_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = envsecret("DEFAULT_FROM_EMAIL") or "hacontrol@localhost"
# Seconds one notification (mail or webhook) may take.
HACONTROL_NOTIFY_TIMEOUT = EMAIL_TIMEOUT

# How long one command on a Central host may take before it is called hung.
HACONTROL_COMMAND_TIMEOUT = envint("HACONTROL_COMMAND_TIMEOUT", 60, minimum=1)
HACONTROL_CONNECT_TIMEOUT = envint("HACONTROL_CONNECT_TIMEOUT", 10, minimum=1)
# Seconds between two state probes of every member by the worker's monitor.
HACONTROL_PROBE_INTERVAL = envint("HACONTROL_PROBE_INTERVAL", 15, minimum=1)
HACONTROL_PROBE_CONCURRENCY = envint("HACONTROL_PROBE_CONCURRENCY", 32, minimum=1)
# After a service start, how long to wait for it to report itself running.
HACONTROL_START_WAIT = envint("HACONTROL_START_WAIT", 30, minimum=0)
# Seconds an installer may run, and where uploaded installers are kept.
HACONTROL_INSTALL_TIMEOUT = envint("HACONTROL_INSTALL_TIMEOUT", 1800, minimum=10)
HACONTROL_INSTALLER_DIR = envsecret("HACONTROL_INSTALLER_DIR") or str(VAR_DIR / "installers")
HACONTROL_MAX_INSTALLER_SIZE = envint("HACONTROL_MAX_INSTALLER_SIZE", 2 * 1024**3, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# Days of state history kept (the panel shows the last 24 hours).
HACONTROL_HISTORY_DAYS = envint("HACONTROL_HISTORY_DAYS", 90, minimum=1)
HACONTROL_CLOCK_SKEW_WARNING = envint("HACONTROL_CLOCK_SKEW_WARNING", 5, minimum=1)
# A running job renews its lease; one that lost its process is recovered once the lease is this old.
HACONTROL_JOB_LEASE = envint("HACONTROL_JOB_LEASE", 30, minimum=2)
# A queued job no worker picked up within this many seconds is handed over again.
HACONTROL_QUEUE_GRACE = envint("HACONTROL_QUEUE_GRACE", 60, minimum=1)
# Jobs one worker runs at once (of different clusters), and how long it waits for them when stopped.
HACONTROL_WORKER_JOBS = envint("HACONTROL_WORKER_JOBS", 8, minimum=1)
HACONTROL_WORKER_GRACE = envint("HACONTROL_WORKER_GRACE", 20, minimum=0)
# How long an undo waits for a host that stopped answering to come back before giving up on it.
HACONTROL_UNDO_PATIENCE = envint("HACONTROL_UNDO_PATIENCE", 60, minimum=0)

# The REST API (hacontrol.api): JSON only, tokens or the browser session, the console's roles.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "hacontrol.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["hacontrol.api.permissions.AdminOrReadOnly"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "hacontrol.api.pagination.Pages",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "hacontrol.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "hacontrol API",
    "DESCRIPTION": "Micetro Central high availability: the console's actions and what it sees. "
                   "Authenticate with `Authorization: Bearer <token>` (tokens are made on the console's API tokens page).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "MemberStateEnum": "hacontrol.ha.models.choices.State",
        "JobStatusEnum": "hacontrol.ha.models.choices.JobStatus",
        "StepStatusEnum": "hacontrol.ha.models.choices.StepStatus",
        "UpgradeStatusEnum": "hacontrol.ha.models.choices.UpgradeStatus",
        "JobKindEnum": "hacontrol.ha.models.choices.JobKind",
        "CredentialKindEnum": "hacontrol.ha.models.choices.CredentialKind",
    },
}
# Behind a reverse proxy: the header in which it names the client (X-Forwarded-For, X-Real-IP), believed
# only from the trusted proxies' addresses (hacontrol.lib.clients). Empty: the connection's own address.
HACONTROL_PROXY_HEADER = envheader("HACONTROL_PROXY_HEADER")
HACONTROL_TRUSTED_PROXIES = envnetworks("HACONTROL_TRUSTED_PROXIES", ["127.0.0.0/8", "::1/128"])
# Addresses that may read /metrics without a token (a token works from anywhere); the client's address
# as above.
HACONTROL_METRICS_ALLOW = envnetworks("HACONTROL_METRICS_ALLOW", ["127.0.0.0/8", "::1/128"])

# Error pages (DEBUG) and error reports hide secrets, in DEBUG too (hacontrol.ha.reporting).
DEFAULT_EXCEPTION_REPORTER_FILTER = "hacontrol.ha.reporting.SecretsHiddenFilter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"hacontrol": {"level": envsecret("LOG_LEVEL") or "INFO"}},
}
