"""Production settings: with real-looking values `bianzhi check --deploy --fail-level WARNING`
is clean; without a secret key or allowed hosts the application refuses to start; weak values
are reported; every setting comes from the environment."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

PG_URL = "postgresql://bianzhi:s3cret-Passw0rd@127.0.0.1:5432/bianzhi"


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BIANZHI_", "DJANGO_", "DATABASE_URL"))}
    env["DJANGO_SETTINGS_MODULE"] = "bianzhi.settings.production"
    env.update(values)
    return env


def _real_looking(**overrides: str) -> dict[str, str]:
    values = {
        "BIANZHI_SECRET_KEY": secrets.token_urlsafe(50),
        "BIANZHI_ALLOWED_HOSTS": "bianzhi.example.gov.cn, 10.0.0.12",
        "BIANZHI_CSRF_TRUSTED_ORIGINS": "https://bianzhi.example.gov.cn",
        "BIANZHI_PII_KEY": secrets.token_hex(32),
        "DATABASE_URL": PG_URL,
    }
    values.update(overrides)
    return _env(**values)


def _bianzhi(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bianzhi", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_the_deployment_check_is_clean():
    result = _bianzhi("check", "--deploy", "--fail-level", "WARNING", env=_real_looking())
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNINGS" not in output and "ERRORS" not in output
    assert "System check identified no issues" in output


def test_weak_values_fail_the_check():
    env = _real_looking(BIANZHI_SECRET_KEY="too-short", BIANZHI_SSL_REDIRECT="0", BIANZHI_HSTS_SECONDS="0")
    result = _bianzhi("check", "--deploy", "--fail-level", "WARNING", env=env)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for code in ("security.W004", "security.W008", "security.W009"):
        assert code in output, code


def test_refuses_to_start_without_a_secret_key_or_allowed_hosts():
    for missing in ("BIANZHI_SECRET_KEY", "BIANZHI_ALLOWED_HOSTS", "BIANZHI_PII_KEY"):
        env = _real_looking()
        del env[missing]
        result = _bianzhi("check", env=env)
        assert result.returncode != 0
        assert "ImproperlyConfigured" in result.stderr and missing in result.stderr


def test_a_weak_pii_key_refuses_to_start():
    for weak in ("0123456789abcdef", "secret", "短"):
        result = _bianzhi("check", env=_real_looking(BIANZHI_PII_KEY=weak))
        assert result.returncode != 0
        assert "ImproperlyConfigured" in result.stderr and "BIANZHI_PII_KEY" in result.stderr
        assert weak not in result.stderr  # the key itself is never printed


def test_the_settings_come_from_the_environment():
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({k: getattr(s, k) for k in ("
        "'DEBUG', 'ALLOWED_HOSTS', 'CSRF_TRUSTED_ORIGINS', 'SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', "
        "'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SECURE_HSTS_PRELOAD', 'SESSION_COOKIE_SECURE', "
        "'SESSION_COOKIE_HTTPONLY', 'CSRF_COOKIE_SECURE', 'SECURE_CONTENT_TYPE_NOSNIFF', 'X_FRAME_OPTIONS', "
        "'SECURE_REFERRER_POLICY', 'SECURE_CROSS_ORIGIN_OPENER_POLICY', 'MIDDLEWARE')}, default=str)); "
        "print(s.DATABASES['default']['ENGINE'], s.DATABASES['default']['NAME'])"
    )
    env = _real_looking(BIANZHI_DEBUG="1", BIANZHI_SSL_REDIRECT="false", BIANZHI_HSTS_SECONDS="600")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    first, database = result.stdout.strip().splitlines()
    s = json.loads(first)
    assert s["DEBUG"] is False  # BIANZHI_DEBUG cannot turn it on in production
    assert s["ALLOWED_HOSTS"] == ["bianzhi.example.gov.cn", "10.0.0.12"]
    assert s["CSRF_TRUSTED_ORIGINS"] == ["https://bianzhi.example.gov.cn"]
    assert s["SECURE_SSL_REDIRECT"] is False and s["SECURE_HSTS_SECONDS"] == 600
    assert s["SECURE_HSTS_INCLUDE_SUBDOMAINS"] and s["SECURE_HSTS_PRELOAD"]
    assert s["SESSION_COOKIE_SECURE"] and s["SESSION_COOKIE_HTTPONLY"] and s["CSRF_COOKIE_SECURE"]
    assert s["SECURE_CONTENT_TYPE_NOSNIFF"] and s["X_FRAME_OPTIONS"] == "DENY"
    assert s["SECURE_REFERRER_POLICY"] == "same-origin" and s["SECURE_CROSS_ORIGIN_OPENER_POLICY"] == "same-origin"
    assert "bianzhi.common.middleware.SecurityHeadersMiddleware" in s["MIDDLEWARE"]
    assert database == "django.db.backends.postgresql bianzhi"
