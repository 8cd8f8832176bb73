from django.db import models
from django.utils.translation import gettext_lazy as _


class Level(models.TextChoices):
    PROVINCE = "province", _("province")
    CITY = "city", _("prefecture-level city")
    COUNTY = "county", _("county-level division")
    TOWN = "town", _("town / street")
