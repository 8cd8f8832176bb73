"""Personal data at rest: SM4 encryption and an HMAC-SM3 blind index (GB/T 39786-2021).

A sensitive value (the citizen ID number) is never stored in clear. The row keeps:

* the **ciphertext**, ``sm4gcm$<key id>$<base64(nonce ‖ ciphertext ‖ tag)>`` — SM4 in GCM
  mode (authenticated: a changed byte fails to decrypt), a fresh 96-bit nonce per value, the
  field name bound in as associated data so a value cannot be moved to another column;
* a **blind index**, HMAC-SM3 of the normalised value under a key of its own — equal values
  give equal indexes, so look-ups and the one-spell-per-person rule work without decrypting;
* the **masked** form shown by default (``440106********1234``).

The key material comes from ``BIANZHI_PII_KEY`` (hex or base64, at least 16 bytes). Two
sub-keys are derived from it with HMAC-SM3 (one to encrypt, one for the index), and its key
id (the first 8 hex digits of SM3 of the key) is written beside every ciphertext. Previous
keys listed in ``BIANZHI_PII_OLD_KEYS`` still decrypt and still find indexes, so a key can be
rotated with ``bianzhi pii rotate`` while the application runs. Without a configured key, the
development settings create a random one in the data directory (``pii.key``, mode 0600);
production settings refuse to start without one.

Decrypting is only for code that shows a number to someone entitled to it, and that code
writes the audit event (see :func:`bianzhi.orgs.services.person_reveal_id`).
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

SCHEME = "sm4gcm"
NONCE_BYTES = 12
TAG_BYTES = 16
MIN_KEY_BYTES = 16


class PiiError(Exception):
    """A stored value cannot be decrypted (unknown key id, or the ciphertext was altered)."""


def _hmac_sm3(key: bytes, data: bytes) -> bytes:
    mac = hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize()


def _sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def parse_key(text: str) -> bytes:
    """Key material from its configured text: hex (even length) or base64, at least 16 bytes."""
    text = text.strip()
    raw: bytes | None = None
    if text and len(text) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in text):
        raw = bytes.fromhex(text)
    else:
        try:
            raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_" if "-" in text or "_" in text
                                   else None, validate=True)
        except (binascii.Error, ValueError):
            raw = None
    if raw is None or len(raw) < MIN_KEY_BYTES:
        raise ImproperlyConfigured(
            f"BIANZHI_PII_KEY must be hex or base64 of at least {MIN_KEY_BYTES} bytes "
            "(make one with `bianzhi pii new-key`)"
        )
    return raw


def new_key() -> str:
    """A fresh 256-bit key as hex, for ``BIANZHI_PII_KEY``."""
    return secrets.token_hex(32)


@dataclass(frozen=True)
class Key:
    kid: str
    enc: bytes  # 16 bytes: SM4 takes a 128-bit key
    index: bytes

    @classmethod
    def from_material(cls, material: bytes) -> Key:
        return cls(
            kid=_sm3(material).hex()[:8],
            enc=_hmac_sm3(material, b"bianzhi/pii/sm4")[:16],
            index=_hmac_sm3(material, b"bianzhi/pii/index"),
        )


@dataclass(frozen=True)
class Keyring:
    current: Key
    old: tuple[Key, ...] = ()

    def by_kid(self, kid: str) -> Key:
        for key in (self.current, *self.old):
            if key.kid == kid:
                return key
        raise PiiError(f"no configured key has id {kid}")

    @property
    def all(self) -> tuple[Key, ...]:
        return (self.current, *self.old)


_lock = threading.Lock()
_cache: dict[tuple[str, tuple[str, ...], str], Keyring] = {}


def _key_file_text(path: Path) -> str:
    """Read the development key file, creating it (mode 0600) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(new_key() + "\n")
    return path.read_text().strip()


def keyring() -> Keyring:
    text = (getattr(settings, "BIANZHI_PII_KEY", "") or "").strip()
    old = tuple(k.strip() for k in getattr(settings, "BIANZHI_PII_OLD_KEYS", ()) if k.strip())
    key_file = getattr(settings, "BIANZHI_PII_KEY_FILE", None)
    cache_key = (text, old, str(key_file or ""))
    ring = _cache.get(cache_key)
    if ring is not None:
        return ring
    with _lock:
        if not text:
            if not key_file:
                raise ImproperlyConfigured("BIANZHI_PII_KEY is not set (make one with `bianzhi pii new-key`)")
            text = _key_file_text(Path(key_file))
        current = Key.from_material(parse_key(text))
        olds = tuple(k for k in (Key.from_material(parse_key(t)) for t in old) if k.kid != current.kid)
        ring = Keyring(current=current, old=olds)
        _cache[cache_key] = ring
        return ring


def normalise(value: str) -> str:
    return value.strip().upper()


def encrypt(value: str, *, field: str, key: Key | None = None) -> str:
    key = key or keyring().current
    nonce = os.urandom(NONCE_BYTES)
    encryptor = Cipher(algorithms.SM4(key.enc), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(field.encode())
    body = encryptor.update(value.encode("utf-8")) + encryptor.finalize()
    blob = base64.b64encode(nonce + body + encryptor.tag).decode("ascii")
    return f"{SCHEME}${key.kid}${blob}"


def key_id(token: str) -> str:
    parts = token.split("$")
    if len(parts) != 3 or parts[0] != SCHEME:
        raise PiiError("not an SM4 ciphertext")
    return parts[1]


def decrypt(token: str, *, field: str) -> str:
    kid = key_id(token)
    key = keyring().by_kid(kid)
    try:
        raw = base64.b64decode(token.split("$", 2)[2], validate=True)
    except (binascii.Error, ValueError):
        raise PiiError("ciphertext is not base64") from None
    if len(raw) < NONCE_BYTES + TAG_BYTES:
        raise PiiError("ciphertext too short")
    nonce, body, tag = raw[:NONCE_BYTES], raw[NONCE_BYTES:-TAG_BYTES], raw[-TAG_BYTES:]
    decryptor = Cipher(algorithms.SM4(key.enc), modes.GCM(nonce, tag)).decryptor()
    decryptor.authenticate_additional_data(field.encode())
    try:
        return (decryptor.update(body) + decryptor.finalize()).decode("utf-8")
    except InvalidTag:
        raise PiiError("ciphertext failed its integrity check") from None


def blind_index(value: str, *, key: Key | None = None) -> str:
    key = key or keyring().current
    return _hmac_sm3(key.index, normalise(value).encode("utf-8")).hex()


def lookup_indexes(value: str) -> list[str]:
    """The index of a value under every configured key: rows not yet rotated are found too.

    Refuses (``ImproperlyConfigured``) when stored values are under a key that is not
    configured: their indexes could not be matched, and a look-up that silently misses would
    register the same person twice."""
    ring = keyring()
    ensure_keys_cover_stored(ring)
    return [blind_index(value, key=k) for k in ring.all]


_COVER_SECONDS = 300.0
_covered: dict[tuple[str, ...], float] = {}


def ensure_keys_cover_stored(ring: Keyring | None = None) -> None:
    """Every stored ciphertext is under a configured key (checked at most every 5 minutes
    per process and key set; one indexed-prefix query per sealed field)."""
    import time

    from django.apps import apps

    ring = ring or keyring()
    kids = tuple(k.kid for k in ring.all)
    now = time.monotonic()
    if now - _covered.get(kids, -_COVER_SECONDS) < _COVER_SECONDS:
        return
    for sealed in SEALED_FIELDS:
        qs = apps.get_model(sealed.model)._default_manager.all()
        for kid in kids:
            qs = qs.exclude(**{f"{sealed.enc}__startswith": f"{SCHEME}${kid}$"})
        stray = qs.values_list(sealed.enc, flat=True).first()
        if stray is not None:
            raise ImproperlyConfigured(
                f"stored personal data ({sealed.model}) is encrypted under key id {key_id(stray)}, which is "
                "not configured: set BIANZHI_PII_KEY to that key, or list it in BIANZHI_PII_OLD_KEYS"
            )
    _covered[kids] = now


# --------------------------------------------------------------------------- sealed columns


@dataclass(frozen=True)
class SealedField:
    """A sensitive value kept as ciphertext plus (optionally) a blind index."""

    model: str  # "app_label.ModelName"
    enc: str
    index: str | None
    aad: str  # the field name bound into the ciphertext


SEALED_FIELDS: list[SealedField] = [
    SealedField("orgs.Person", "id_number_enc", "id_number_index", "orgs.person.id_number"),
]


def key_census() -> dict[str, dict[str, int]]:
    """How many stored values each key id encrypts, per sealed field."""
    from django.apps import apps

    census: dict[str, dict[str, int]] = {}
    for sealed in SEALED_FIELDS:
        model = apps.get_model(sealed.model)
        counts: dict[str, int] = {}
        for token in model._default_manager.values_list(sealed.enc, flat=True).iterator(chunk_size=5000):
            kid = token.split("$", 2)[1] if token.count("$") >= 2 else "?"
            counts[kid] = counts.get(kid, 0) + 1
        census[f"{sealed.model}.{sealed.enc}"] = counts
    return census


def rotate(*, batch_size: int = 2000) -> dict[str, int]:
    """Re-encrypt (and re-index) every value not under the current key, batch by batch, each
    batch in its own transaction with its audit event. Safe to run while the application runs
    and to run again after an interruption: values already under the current key are skipped,
    and look-ups try every configured key meanwhile."""
    from django.apps import apps
    from django.db import transaction

    from . import audit

    ring = keyring()
    current = ring.current
    done: dict[str, int] = {}
    for sealed in SEALED_FIELDS:
        model = apps.get_model(sealed.model)
        manager = model._default_manager
        label = f"{sealed.model}.{sealed.enc}"
        done[label] = 0
        prefix = f"{SCHEME}${current.kid}$"
        while True:
            with transaction.atomic():
                rows = list(manager.select_for_update().exclude(**{f"{sealed.enc}__startswith": prefix})
                            .order_by("pk")[:batch_size])
                if not rows:
                    break
                fields = [sealed.enc] + ([sealed.index] if sealed.index else [])
                from_kids: dict[str, int] = {}
                for row in rows:
                    token = getattr(row, sealed.enc)
                    from_kids[key_id(token)] = from_kids.get(key_id(token), 0) + 1
                    value = decrypt(token, field=sealed.aad)
                    setattr(row, sealed.enc, encrypt(value, field=sealed.aad, key=current))
                    if sealed.index:
                        setattr(row, sealed.index, blind_index(value, key=current))
                manager.bulk_update(rows, fields)
                audit.record(None, audit.Entry(
                    action="pii.rotate", scope_path="", object_type=sealed.model.lower(),
                    object_repr=label, after={"to_key": current.kid, "from_keys": from_kids, "count": len(rows)},
                ))
                done[label] += len(rows)
    return done
