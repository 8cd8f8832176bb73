from django.urls import include, path

from .api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("accounts/", include("bianzhi.accounts.urls")),
    path("divisions/", include("bianzhi.divisions.urls")),
    path("orgs/", include("bianzhi.orgs.urls")),
    path("staffing/", include("bianzhi.staffing.urls")),
    path("approvals/", include("bianzhi.workflow.urls")),
    path("stats/", include("bianzhi.stats.urls")),
    path("funds/", include("bianzhi.funds.urls")),
    path("bodies/", include("bianzhi.bodies.urls")),
    path("documents/", include("bianzhi.documents.urls")),
    path("", include("bianzhi.common.urls")),
]
