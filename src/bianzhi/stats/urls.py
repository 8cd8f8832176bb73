from django.urls import path

from . import alert_views, views

app_name = "stats"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("indicators/", views.indicators, name="indicators"),
    path("indicators/<str:code>/", views.drill, name="drill"),
    path("report/", views.report, name="report"),
    path("catalogue/", views.catalogue, name="catalogue"),
    path("alerts/", alert_views.alert_list, name="alert_list"),
    path("alerts/<int:pk>/", alert_views.alert_detail, name="alert_detail"),
    path("alerts/<int:pk>/handle/", alert_views.alert_handle, name="alert_handle"),
    path("analysis/", alert_views.analysis, name="analysis"),
    path("analysis/<int:year>.docx", alert_views.analysis_docx, name="analysis_docx"),
    path("analysis/<int:year>.pdf", alert_views.analysis_pdf, name="analysis_pdf"),
]
