from django.db import models
from django.utils.translation import gettext_lazy as _


class DocumentStatus(models.TextChoices):
    ISSUED = "issued", _("issued")
    VOID = "void", _("void")
