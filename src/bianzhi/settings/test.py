"""Test settings: the same as base, with a fast password hasher.

The database comes from DATABASE_URL like everywhere else; without it pytest-django
uses an in-memory SQLite database.
"""

from .base import *  # noqa: F403

DEBUG = False
# A fixed key: tests are repeatable and never write a key file.
BIANZHI_PII_KEY = "7465737420706969206b6579206f6620626961e7687a6869207465737473212121"
BIANZHI_PII_KEY_FILE = None
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# The fixtures' administrators and decision makers log in with a password alone; the tests of
# the second factor (tests/accounts/test_totp.py) turn the requirement on.
BIANZHI_TOTP_REQUIRED_ROLES = ""

# Tests run background tasks at once, in the calling thread.
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

# SQLite tests run on a file database (in /dev/shm when there is one), not in memory: the
# concurrency tests need several connections that queue for the write lock, as in production.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    import os as _os
    import tempfile as _tempfile

    _dir = "/dev/shm" if _os.path.isdir("/dev/shm") and _os.access("/dev/shm", _os.W_OK) else _tempfile.gettempdir()
    DATABASES["default"]["TEST"] = {"NAME": _os.path.join(_dir, f"bianzhi-test-{_os.getpid()}.sqlite3")}  # noqa: F405
