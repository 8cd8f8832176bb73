"""Issuing offices (发文机关) and the official documents (公文) they issue.

Only :mod:`bianzhi.documents.services` writes these tables. A document number is taken when
the document is issued, per issuing office and year, from a gap-free counter in the issuing
transaction (:func:`bianzhi.common.sequences.next_value`); it is never reused: a void
document keeps its number and is marked void.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .choices import DocumentStatus


class IssuingOffice(models.Model):
    """The issuing office of a jurisdiction (its 编办): the issuing-authority mark printed in
    red at the head of a document, the authority code of its document numbers and the printing
    office of the end notes. Default rows come from ``data/offices.yaml``."""

    SCOPE_PATH_FIELD = "division__path"
    SCOPE_UNIT_FIELD = None

    division = models.OneToOneField("divisions.Division", on_delete=models.PROTECT, related_name="issuing_office",
                                    verbose_name=_("jurisdiction"))
    mark = models.CharField(max_length=60, verbose_name=_("issuing-authority mark"))
    prefix = models.CharField(max_length=20, unique=True, verbose_name=_("document number prefix"))
    printing_office = models.CharField(max_length=60, verbose_name=_("printing office"))
    source_document = models.CharField(max_length=200, blank=True, verbose_name=_("source document"))

    class Meta:
        ordering = ["division__path"]
        verbose_name = _("issuing office")
        verbose_name_plural = _("issuing offices")

    def __str__(self) -> str:
        return self.mark


class OfficialDocument(models.Model):
    """One issued document (公文) in the GB/T 9704-2012 layout.

    ``body`` holds the paragraphs, one a line (blank lines are ignored); a line starting with
    ``一、`` is a level-1 heading, ``（一）`` a level-2 one. ``mark`` and ``printing_office`` are
    copied from the office when the document is issued, so a later change of the office does
    not change a document already issued. ``object_type`` / ``object_id`` name what the
    document concerns (e.g. ``bodies.body`` and its id)."""

    SCOPE_PATH_FIELD = "jurisdiction_path"
    SCOPE_UNIT_FIELD = None  # an issued document is read by everyone of its jurisdiction

    office = models.ForeignKey(IssuingOffice, on_delete=models.PROTECT, related_name="documents",
                               verbose_name=_("issuing office"))
    jurisdiction_path = models.CharField(max_length=200, db_index=True, verbose_name=_("path"))
    year = models.PositiveSmallIntegerField(verbose_name=_("year"))
    serial = models.PositiveIntegerField(verbose_name=_("serial number"))
    number = models.CharField(max_length=60, unique=True, verbose_name=_("document number"))
    mark = models.CharField(max_length=60, verbose_name=_("issuing-authority mark"))
    title = models.CharField(max_length=200, verbose_name=_("title"))
    addressees = models.TextField(blank=True, verbose_name=_("addressees"))
    body = models.TextField(verbose_name=_("body"))
    attachments_note = models.TextField(blank=True, verbose_name=_("attachments"))
    issuer = models.CharField(max_length=100, verbose_name=_("issuing authority"))
    written_on = models.DateField(verbose_name=_("date of writing"))
    cc = models.TextField(blank=True, verbose_name=_("copied to"))
    printing_office = models.CharField(max_length=60, verbose_name=_("printing office"))
    printed_on = models.DateField(verbose_name=_("printed on"))
    status = models.CharField(max_length=10, choices=DocumentStatus.choices, default=DocumentStatus.ISSUED,
                              db_index=True, verbose_name=_("status"))
    void_reason = models.TextField(blank=True, verbose_name=_("reason for voiding"))
    voided_at = models.DateTimeField(null=True, blank=True, verbose_name=_("voided at"))
    voided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+", verbose_name=_("voided by"))
    object_type = models.CharField(max_length=64, blank=True, verbose_name=_("object type"))
    object_id = models.CharField(max_length=64, blank=True, verbose_name=_("object id"))
    case_number = models.CharField(max_length=40, blank=True, db_index=True, verbose_name=_("case number"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("issued by"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("issued at"))

    class Meta:
        ordering = ["-year", "office__division__path", "-serial"]
        verbose_name = _("official document")
        verbose_name_plural = _("official documents")
        indexes = [models.Index(fields=["object_type", "object_id"], name="document_object_idx")]
        constraints = [
            models.UniqueConstraint(fields=["office", "year", "serial"], name="document_serial_unique",
                                    violation_error_message=_("This document number is already taken.")),
            models.CheckConstraint(condition=Q(serial__gte=1), name="document_serial_positive",
                                   violation_error_message=_("A serial number starts at 1.")),
            models.CheckConstraint(condition=Q(status__in=DocumentStatus.values), name="document_status_valid",
                                   violation_error_message=_("Unknown document status.")),
            models.CheckConstraint(condition=~Q(status=DocumentStatus.VOID) | ~Q(void_reason=""),
                                   name="document_void_has_reason",
                                   violation_error_message=_("A void document records why it is void.")),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def is_void(self) -> bool:
        return self.status == DocumentStatus.VOID
