"""Production settings (``DJANGO_SETTINGS_MODULE=bianzhi.settings.production``).

Everything comes from environment variables (see docs/deploy.md); without a secret key or
allowed hosts the application refuses to start. bianzhi runs behind an HTTPS reverse proxy
that sets ``X-Forwarded-Proto``. ``bianzhi check --deploy --fail-level WARNING`` is clean.
"""

from django.core.exceptions import ImproperlyConfigured

from bianzhi.common.pii import parse_key as _parse_pii_key

from .base import *  # noqa: F403
from .base import env, env_bool


def _required(name: str) -> str:
    value = env(name).strip()
    if not value:
        raise ImproperlyConfigured(f"{name} must be set for bianzhi.settings.production (see docs/deploy.md)")
    return value


def _list(name: str) -> list[str]:
    return [item.strip() for item in env(name).split(",") if item.strip()]


DEBUG = False
SECRET_KEY = _required("BIANZHI_SECRET_KEY")
_required("BIANZHI_ALLOWED_HOSTS")
# Stored personal data is SM4-encrypted with this key; never a key file in production.
BIANZHI_PII_KEY = _required("BIANZHI_PII_KEY")
_parse_pii_key(BIANZHI_PII_KEY)  # refuses a key that is not hex/base64 of at least 16 bytes
for _old in BIANZHI_PII_OLD_KEYS:  # noqa: F405
    _parse_pii_key(_old)
BIANZHI_PII_KEY_FILE = None
ALLOWED_HOSTS = _list("BIANZHI_ALLOWED_HOSTS")
# Origins of the pages that post forms when they differ from the host (e.g. "https://bianzhi.example.cn").
CSRF_TRUSTED_ORIGINS = _list("BIANZHI_CSRF_TRUSTED_ORIGINS")

# HTTPS: the proxy terminates TLS and says so in X-Forwarded-Proto (it must overwrite the header).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("BIANZHI_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = int(env("BIANZHI_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("BIANZHI_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("BIANZHI_HSTS_PRELOAD", True)

# Cookies only over HTTPS, the session cookie out of reach of scripts.
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_SAMESITE = "Lax"

# Headers (the Content-Security-Policy and Permissions-Policy come from
# bianzhi.common.middleware.SecurityHeadersMiddleware, on in every settings module).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Logs go to stderr (the service manager or the container collects them), one line each.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "line": {"format": "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"},
    },
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "line"},
    },
    "root": {"handlers": ["stderr"], "level": env("BIANZHI_LOG_LEVEL", "INFO")},
    "loggers": {
        # Server errors with their tracebacks; refused hosts and bad requests as warnings.
        "django.request": {"level": "WARNING"},
        "django.security": {"level": "WARNING"},
        # SQL is never logged in production, whatever the root level.
        "django.db.backends": {"level": "WARNING"},
        # PDF rendering reports every step at INFO.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
