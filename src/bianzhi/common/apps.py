from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommonConfig(AppConfig):
    name = "bianzhi.common"
    label = "common"
    verbose_name = _("Common")

    def ready(self) -> None:
        from . import audit_checks  # noqa: F401  (registers the audit system checks)
