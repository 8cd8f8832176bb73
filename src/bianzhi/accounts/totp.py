"""The second factor: TOTP codes (RFC 6238) from an authenticator app.

- **Who.** ``BIANZHI_TOTP_REQUIRED_ROLES`` (comma-separated role codes, default
  ``decision_maker,administrator``; empty = nobody) must use it; anybody else may enrol.
- **Codes.** 6 digits, 30-second steps, HMAC-SHA1 (what every authenticator app speaks); the
  step before and after the current one are accepted for clock drift. The step of the last
  accepted code is stored: that code, and any code of an earlier step, is refused afterwards,
  so an observed code cannot be replayed.
- **Secret at rest.** SM4-GCM under a key derived with HMAC-SM3 from ``BIANZHI_PII_KEY``
  when that is set, else from ``SECRET_KEY``; the ciphertext names its key (a short key id)
  and is bound to its user (associated data). Keys derived from ``BIANZHI_PII_OLD_KEYS``,
  ``SECRET_KEY`` (once a PII key is set) and ``SECRET_KEY_FALLBACKS`` still decrypt; a secret
  found under an older key is re-encrypted under the current one at its next use, or all at
  once by ``bianzhi user totp-rekey``.
- **Log-in.** After the right password the log-in page does *not* log the user in: it keeps a
  short-lived pending state in the session (:func:`set_pending`) and asks for the code, or — a
  required role without a second factor — shows the enrolment first. ``login()`` runs only
  after a code was accepted; the session then carries the id of the device it was opened with.
- **Sessions.** :class:`SecondFactorMiddleware` ends a session that was not opened with the
  user's current second factor (an enrolment in another browser, a log-in by any other path)
  or was opened with one that has been reset since, and keeps a user whose role requires a
  second factor and who has none on the enrolment page.
"""

from __future__ import annotations

import base64
import hmac
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext

from .models import TotpDevice, User

DIGITS = 6
PERIOD = 30
DRIFT_STEPS = 1
PENDING_SECONDS = 300
PENDING_KEY = "bianzhi_totp_pending"
SESSION_DEVICE_KEY = "bianzhi_totp_device"
SECRET_FORMAT = "sm4gcm1"
_KEY_PURPOSE = b"bianzhi.accounts.totp-secret.v1"


def clock() -> float:
    """Seconds since the epoch: the time codes and the pending log-in are measured against."""
    return time.time()


# ---------------------------------------------------------------------------------------------
# Who must use a second factor


def required_roles() -> frozenset[str]:
    value: Any = getattr(settings, "BIANZHI_TOTP_REQUIRED_ROLES", "decision_maker,administrator")
    items: Iterable[Any] = value.split(",") if isinstance(value, str) else (value or ())
    return frozenset(str(item).strip() for item in items if str(item).strip())


def is_required(user: Any) -> bool:
    return bool(getattr(user, "role", "")) and user.role in required_roles()


def confirmed_device(user: Any) -> TotpDevice | None:
    if not getattr(user, "pk", None):
        return None
    return TotpDevice.objects.filter(user_id=user.pk, confirmed_at__isnull=False).first()


def stage_for(user: Any) -> str | None:
    """What the log-in still needs after the password: ``verify``, ``enrol`` or nothing."""
    if confirmed_device(user) is not None:
        return "verify"
    if is_required(user):
        return "enrol"
    return None


# ---------------------------------------------------------------------------------------------
# The secret at rest


class SecretUnreadable(Exception):
    """The stored secret was encrypted under a key that is no longer configured (or altered)."""


def _derive(root: str | bytes) -> bytes:
    raw = root.encode("utf-8") if isinstance(root, str) else root
    mac = crypto_hmac.HMAC(raw, hashes.SM3())
    mac.update(_KEY_PURPOSE)
    return mac.finalize()[:16]  # SM4 keys are 128 bits


def _key_id(key: bytes) -> str:
    digest = hashes.Hash(hashes.SM3())
    digest.update(b"key-id:" + key)
    return digest.finalize().hex()[:8]


def _keys() -> list[bytes]:
    """The current key first, then the keys older secrets may have been encrypted under.

    The root of the current key is ``BIANZHI_PII_KEY`` when it is set (the key an office keeps
    apart from its backups), else ``SECRET_KEY``; older roots are ``BIANZHI_PII_OLD_KEYS``,
    ``SECRET_KEY`` (secrets enrolled before a PII key was set) and ``SECRET_KEY_FALLBACKS``.
    The TOTP key is derived for this purpose alone, never the PII encryption key itself.
    """
    roots: list[Any] = []
    pii = str(getattr(settings, "BIANZHI_PII_KEY", "") or "").strip()
    if pii:
        roots.append(pii)
    roots.extend(str(k).strip() for k in getattr(settings, "BIANZHI_PII_OLD_KEYS", None) or [] if str(k).strip())
    roots.append(settings.SECRET_KEY)
    roots.extend(getattr(settings, "SECRET_KEY_FALLBACKS", None) or [])
    keys: list[bytes] = []
    for root in roots:
        key = _derive(root)
        if key not in keys:
            keys.append(key)
    return keys


def _aad(user_id: Any) -> bytes:
    return f"accounts.totpdevice:{user_id}".encode("ascii")


def encrypt_secret(secret: str, user_id: Any) -> str:
    key = _keys()[0]
    nonce = os.urandom(12)
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(_aad(user_id))
    body = encryptor.update(secret.encode("ascii")) + encryptor.finalize()
    blob = base64.b64encode(nonce + body + encryptor.tag).decode("ascii")
    return f"{SECRET_FORMAT}:{_key_id(key)}:{blob}"


@dataclass
class Decrypted:
    secret: str
    current_key: bool  # False: encrypted under an older key, re-encrypt it


def decrypt_secret(stored: str, user_id: Any) -> Decrypted:
    try:
        fmt, kid, blob = stored.split(":", 2)
        raw = base64.b64decode(blob, validate=True)
    except (ValueError, TypeError) as exc:
        raise SecretUnreadable from exc
    if fmt != SECRET_FORMAT or len(raw) < 12 + 16 + 1:
        raise SecretUnreadable
    keys = _keys()
    for index, key in enumerate(keys):
        if _key_id(key) != kid:
            continue
        nonce, body, tag = raw[:12], raw[12:-16], raw[-16:]
        decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(_aad(user_id))
        try:
            plain = decryptor.update(body) + decryptor.finalize()
        except InvalidTag as exc:
            raise SecretUnreadable from exc
        return Decrypted(plain.decode("ascii"), index == 0)
    raise SecretUnreadable


def current_key_id() -> str:
    return _key_id(_keys()[0])


def key_id_of(stored: str) -> str:
    parts = stored.split(":", 2)
    return parts[1] if len(parts) == 3 else ""


def new_secret() -> str:
    """160 random bits in base32, the length RFC 4226 recommends."""
    return pyotp.random_base32(32)


def issuer() -> str:
    return gettext("Establishment Management Information Platform")


def provisioning_uri(secret: str, username: str) -> str:
    """The ``otpauth://totp/…`` URI an authenticator app imports."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).provisioning_uri(name=username, issuer_name=issuer())


def grouped(secret: str) -> str:
    """The secret in groups of four, as people type it."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


# ---------------------------------------------------------------------------------------------
# Codes


def normalise_code(code: Any) -> str:
    return "".join(str(code or "").split())


def matching_step(secret: str, code: Any, *, at: float | None = None) -> int | None:
    """The time step whose code ``code`` is (current step ± drift), or None."""
    code = normalise_code(code)
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD)
    now = totp.timecode(int(clock() if at is None else at))
    found = None
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        # Every candidate is compared, in constant time, whichever matches.
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


# ---------------------------------------------------------------------------------------------
# The pending log-in (password accepted, second factor not yet)


@dataclass
class Pending:
    user: User
    stage: str
    backend: str
    next_url: str


def set_pending(request: HttpRequest, user: Any, stage: str, next_url: str) -> None:
    request.session.cycle_key()  # a new session id for the half-logged-in state
    request.session[PENDING_KEY] = {
        "user": user.pk, "stage": stage, "backend": getattr(user, "backend", ""),
        "since": clock(), "next": next_url,
    }


def get_pending(request: HttpRequest) -> Pending | None:
    """The pending log-in of this session, unless it is older than ``PENDING_SECONDS`` or its
    user can no longer log in (then it is dropped)."""
    data = request.session.get(PENDING_KEY)
    if not isinstance(data, dict):
        return None
    user = None
    if clock() - float(data.get("since", 0)) <= PENDING_SECONDS and isinstance(data.get("user"), int):
        user = User.objects.filter(pk=data["user"], is_active=True).select_related("jurisdiction").first()
    if user is None:
        clear_pending(request)
        return None
    return Pending(user, str(data.get("stage")), str(data.get("backend") or ""), str(data.get("next") or "/"))


def update_pending_stage(request: HttpRequest, stage: str) -> None:
    data = dict(request.session.get(PENDING_KEY) or {})
    data["stage"] = stage
    request.session[PENDING_KEY] = data


def clear_pending(request: HttpRequest) -> None:
    request.session.pop(PENDING_KEY, None)


# ---------------------------------------------------------------------------------------------
# Sessions


class SecondFactorMiddleware:
    """Every session of a user with a second factor was opened with it; a user whose role
    requires one and who has none can only enrol (or change an expired password, or log out).

    The API answers 403 where a page would redirect. Personal API tokens are a separate
    credential and are not affected: a bearer request carries no session.
    """

    EXEMPT_PREFIXES = ("/static/",)

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or request.path.startswith(self.EXEMPT_PREFIXES):
            return self.get_response(request)
        device = TotpDevice.objects.filter(user_id=user.pk, confirmed_at__isnull=False).values_list(
            "pk", flat=True).first()
        mark = request.session.get(SESSION_DEVICE_KEY)
        if mark != device and (device is not None or mark is not None):
            # Not opened with the user's second factor, or opened with one that was reset since.
            return self._end_session(request)
        if device is None and is_required(user):
            allowed = (reverse("accounts:totp"), reverse("accounts:logout"), reverse("accounts:password_change"))
            if request.path not in allowed:
                if request.path.startswith("/api/"):
                    return _api_refusal()
                return redirect("accounts:totp")
        return self.get_response(request)

    @staticmethod
    def _end_session(request: HttpRequest) -> HttpResponse:
        is_api = request.path.startswith("/api/")
        logout(request)
        if is_api:
            return _api_refusal()
        return redirect(f"{reverse('accounts:login')}?next={_safe_next(request)}")


def _safe_next(request: HttpRequest) -> str:
    from urllib.parse import quote

    path = request.get_full_path() if request.method == "GET" else "/"
    return quote(path if not urlsplit(path).netloc else "/", safe="/")


def _api_refusal() -> JsonResponse:
    from bianzhi.common.errors import message_for

    from .errors import TOTP_REQUIRED

    return JsonResponse(
        {"errors": [{"row": None, "column": None, "value": None, "code": TOTP_REQUIRED,
                     "message": message_for(TOTP_REQUIRED)}]},
        status=403,
    )
