"""The audit trail: one table of events chained by SM3 hashes (requirement X1)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """Who did what, when, from where, before and after.

    ``seq`` is assigned under the lock on :class:`AuditChainHead`, so the chain has no
    gaps and no forks; ``hash = SM3(prev_hash + canonical(event))``.
    """

    seq = models.BigIntegerField(primary_key=True, verbose_name=_("sequence"))
    at = models.DateTimeField(db_index=True, verbose_name=_("time"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="audit_events", verbose_name=_("actor"),
    )
    actor_username = models.CharField(max_length=150, blank=True, verbose_name=_("actor"))
    action = models.CharField(max_length=64, db_index=True, verbose_name=_("action"))
    object_type = models.CharField(max_length=64, blank=True, verbose_name=_("object type"))
    object_id = models.CharField(max_length=64, blank=True, verbose_name=_("object id"))
    object_repr = models.CharField(max_length=255, blank=True, verbose_name=_("object"))
    scope_path = models.CharField(max_length=200, db_index=True, verbose_name=_("jurisdiction path"))
    before = models.JSONField(null=True, blank=True, verbose_name=_("before"))
    after = models.JSONField(null=True, blank=True, verbose_name=_("after"))
    request_id = models.CharField(max_length=64, blank=True, verbose_name=_("request id"))
    ip = models.GenericIPAddressField(null=True, blank=True, verbose_name=_("IP address"))
    prev_hash = models.CharField(max_length=64, verbose_name=_("previous hash"))
    hash = models.CharField(max_length=64, unique=True, verbose_name=_("hash"))

    class Meta:
        ordering = ["-seq"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_repr}"


class AuditChainHead(models.Model):
    """A single row holding the last sequence number and hash; writers lock it."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("audit chain head")

    def __str__(self) -> str:
        return f"#{self.seq} {self.hash[:12]}"


class Sequence(models.Model):
    """A named counter (case numbers, document numbers): values are handed out under a row
    lock in the caller's transaction, so they are strictly sequential, never reused and safe
    under concurrency; a rolled-back transaction gives its value back."""

    key = models.CharField(max_length=100, primary_key=True, verbose_name=_("sequence"))
    value = models.PositiveBigIntegerField(default=0, verbose_name=_("last value"))

    class Meta:
        verbose_name = _("sequence")
        verbose_name_plural = _("sequences")

    def __str__(self) -> str:
        return f"{self.key}={self.value}"
