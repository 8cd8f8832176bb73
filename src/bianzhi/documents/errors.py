"""Error codes of official documents (stable English codes, zh-hans messages)."""

from django.utils.translation import gettext_lazy as _

from bianzhi.common.errors import define

OFFICE_NOT_FOUND = define(
    "office_not_found", _("No issuing office is set up for this jurisdiction, or it is outside your jurisdiction."))
DOCUMENT_NOT_FOUND = define(
    "document_not_found", _("Unknown document, or a document outside your jurisdiction."))
DOCUMENT_ALREADY_VOID = define("document_already_void", _("This document is already void."))
REASON_REQUIRED = define("void_reason_required", _("Give the reason why the document is void."))
TITLE_REQUIRED = define("title_required", _("A document needs a title."))
BODY_REQUIRED = define("body_required", _("A document needs a body text."))
