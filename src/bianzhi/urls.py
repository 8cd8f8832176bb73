from django.urls import include, path

from .api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("accounts/", include("bianzhi.accounts.urls")),
    path("divisions/", include("bianzhi.divisions.urls")),
    path("orgs/", include("bianzhi.orgs.urls")),
    path("staffing/", include("bianzhi.staffing.urls")),
    path("approvals/", include("bianzhi.workflow.urls")),
    path("funds/", include("bianzhi.funds.urls")),
    path("", include("bianzhi.common.urls")),
]
