"""Fixed enumerations the code branches on. The *values* users choose from (situations,
post classes, work types, …) are rule tables in data/*.yaml, not enumerations."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class RuleTable(models.TextChoices):
    SITUATION = "situation", _("Situation")
    POST_CLASS = "post_class", _("Post class")
    WORK_TYPE = "work_type", _("Work type")
    KEY_POST = "key_post", _("Key post")
    FUNDING_SOURCE = "funding_source", _("Funding source")
    EXIT_REASON = "exit_reason", _("Exit reason")
    EDUCATION = "education", _("Education")
    SETTING = "setting", _("Setting")
    SERVICE_ITEM = "service_item", _("Service catalogue item")
    BODY_KIND = "body_kind", _("Kind of body")
    POSITIVE_GROUND = "positive_ground", _("Positive-list ground")
    NEGATIVE_ITEM = "negative_item", _("Negative-list item")
    REVOCATION_SITUATION = "revocation_situation", _("Revocation situation")


class ClassPolicy(models.TextChoices):
    """The control policy of a post class (S2); the checks branch on these."""

    HOLD_TOTAL = "hold_total", _("Hold the total")
    CONTROL_INCREASE = "control_increase", _("Strictly control increases")
    OPTIMISE_STOCK = "optimise_stock", _("Optimise the stock")
    REDUCE = "reduce", _("Actively reduce")


class SpellSource(models.TextChoices):
    FORM = "form", _("Form")
    REGISTER = "register", _("Roster import (register)")
    INVENTORY = "inventory", _("Roster import (inventory)")
    DEMO = "demo", _("Demo data")


class AuthorisationStatus(models.TextChoices):
    APPROVED = "approved", _("Authorised")
    REVOKED = "revoked", _("Revoked")


class BulkKind(models.TextChoices):
    DOWNSIZING = "downsizing", _("Downsizing")
    GROUP_TRANSFER = "group_transfer", _("Whole-group transfer")


class BulkStatus(models.TextChoices):
    PREVIEWED = "previewed", _("Previewed")
    APPLIED = "applied", _("Applied")
    CANCELLED = "cancelled", _("Cancelled")
