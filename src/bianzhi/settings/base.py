"""Base settings: everything comes from environment variables (see docs/configuration.md)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.utils.translation import gettext_lazy as _

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DATA_DIR = Path(env("BIANZHI_DATA_DIR", str(Path.cwd() / "var"))).resolve()

SECRET_KEY = env("BIANZHI_SECRET_KEY", "insecure-development-key-change-me-in-production")
DEBUG = env_bool("BIANZHI_DEBUG", False)

# Personal data at rest (bianzhi.common.pii): the SM4 key, hex or base64 of at least 16 bytes.
# Keys listed in BIANZHI_PII_OLD_KEYS still decrypt while `bianzhi pii rotate` re-encrypts.
# Without a key, development and the demo use a random key kept in DATA_DIR/pii.key.
BIANZHI_PII_KEY = env("BIANZHI_PII_KEY")
BIANZHI_PII_OLD_KEYS = [k.strip() for k in env("BIANZHI_PII_OLD_KEYS").split(",") if k.strip()]
BIANZHI_PII_KEY_FILE: Path | None = DATA_DIR / "pii.key"
ALLOWED_HOSTS = [h.strip() for h in env("BIANZHI_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "bianzhi.common",
    "bianzhi.divisions",
    "bianzhi.accounts",
    "bianzhi.orgs",
    "bianzhi.staffing",
    "bianzhi.workflow",
    "bianzhi.funds",
    "bianzhi.stats",
    "bianzhi.bodies",
    "bianzhi.documents",
    "bianzhi.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "bianzhi.common.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "bianzhi.accounts.totp.SecondFactorMiddleware",
    "bianzhi.accounts.login_policy.PasswordExpiryMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "bianzhi.common.middleware.RequestContextMiddleware",
]

ROOT_URLCONF = "bianzhi.urls"
WSGI_APPLICATION = "bianzhi.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "bianzhi.common.context_processors.layout",
            ],
        },
    },
]


def _database_config() -> dict[str, Any]:
    url = env("DATABASE_URL")
    if not url:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{DATA_DIR / 'bianzhi.sqlite3'}"
    config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            # Writers queue instead of failing; IMMEDIATE takes the write lock at BEGIN, so a
            # transaction never has to upgrade a read snapshot (which SQLite would refuse).
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                "PRAGMA busy_timeout=30000;"
            ),
        }
    return config


DATABASES = {"default": _database_config()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "bianzhi.accounts.validators.CharacterClassValidator"},
    {"NAME": "bianzhi.accounts.validators.PasswordHistoryValidator", "OPTIONS": {"count": 5}},
]
# The login policy (accounts/login_policy.py): the n-th consecutive failed log-in of a user
# name locks it for m minutes, even against the right password; 0 failures = never lock.
AUTHENTICATION_BACKENDS = ["bianzhi.accounts.login_policy.LockoutModelBackend"]
BIANZHI_LOCKOUT_FAILURES = int(env("BIANZHI_LOCKOUT_FAILURES", "5"))
BIANZHI_LOCKOUT_MINUTES = int(env("BIANZHI_LOCKOUT_MINUTES", "30"))
# Days after which a password must be changed (0 = never).
BIANZHI_PASSWORD_MAX_AGE_DAYS = int(env("BIANZHI_PASSWORD_MAX_AGE_DAYS", "0"))
# A session idle for longer than this is logged out (every request pushes the expiry on).
BIANZHI_SESSION_IDLE_MINUTES = int(env("BIANZHI_SESSION_IDLE_MINUTES", "30"))
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
# The second factor (accounts/totp.py): these roles must log in with a TOTP code of an
# authenticator app after the password; everybody else may. Empty: nobody must.
BIANZHI_TOTP_REQUIRED_ROLES = env("BIANZHI_TOTP_REQUIRED_ROLES", "decision_maker,administrator")
# Audit events are kept at least this many days: `bianzhi audit prune` refuses younger ones,
# and `check --deploy` refuses a value below 180 (MLPS: logs kept six months or more).
BIANZHI_AUDIT_RETENTION_DAYS = int(env("BIANZHI_AUDIT_RETENTION_DAYS", "180"))
SESSION_COOKIE_AGE = BIANZHI_SESSION_IDLE_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# The UI is Simplified Chinese whatever language a browser asks for (no LocaleMiddleware):
# offices must see the same words as the glossary and the templates.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"

def _static_dirs() -> list:
    """Our own static files plus the pinned front-end packages, served by the app itself."""
    import xstatic.pkg.bootstrap

    dirs: list = [PACKAGE_DIR / "static", ("vendor/bootstrap", xstatic.pkg.bootstrap.BASE_DIR)]
    return dirs


STATICFILES_DIRS = _static_dirs()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
DATA_UPLOAD_MAX_MEMORY_SIZE = 50 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

NINJA_PAGINATION_PER_PAGE = 50

# Background work (large imports, nightly checks): rows in the database, run by
# `bianzhi db_worker` (started next to the web server by `bianzhi serve` and `bianzhi demo`).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("BIANZHI_LOG_LEVEL", "WARNING")},
}

# The code of the province a deployment serves; the demo and the division data use it.
BIANZHI_PROVINCE_CODE = env("BIANZHI_PROVINCE_CODE", "440000")
