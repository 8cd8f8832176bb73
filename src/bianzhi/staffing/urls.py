from django.urls import path

from . import views

app_name = "staffing"
urlpatterns = [
    path("roster/", views.roster_list, name="roster_list"),
    path("roster/new/", views.roster_new, name="roster_new"),
    path("roster/<int:pk>/", views.roster_detail, name="roster_detail"),
    path("roster/<int:pk>/exit/", views.roster_exit, name="roster_exit"),
    path("baselines/", views.baseline_list, name="baseline_list"),
    path("baselines/<int:pk>/", views.baseline_detail, name="baseline_detail"),
    path("caps/", views.cap_list, name="cap_list"),
    path("caps/change/", views.cap_change, name="cap_change"),
    path("authorisations/", views.authorisation_list, name="authorisation_list"),
    path("authorisations/new/", views.authorisation_new, name="authorisation_new"),
    path("pool/", views.pool_page, name="pool"),
    path("pool/assign/<int:pk>/", views.pool_assign, name="pool_assign"),
    path("bulk/", views.bulk_list, name="bulk_list"),
    path("bulk/new/", views.bulk_new, name="bulk_new"),
    path("bulk/<int:pk>/", views.bulk_detail, name="bulk_detail"),
    path("bulk/<int:pk>/apply/", views.bulk_apply, name="bulk_apply"),
    path("bulk/<int:pk>/cancel/", views.bulk_cancel, name="bulk_cancel"),
    path("rules/", views.rule_list, name="rule_list"),
    path("rules/<int:pk>/close/", views.rule_close, name="rule_close"),
    path("import/", views.roster_import, name="roster_import"),
    path("import/template/", views.roster_import_template, name="roster_import_template"),
    path("import/report/", views.roster_import_report, name="roster_import_report"),
    path("import/jobs/<str:job>/", views.roster_import_job, name="roster_import_job"),
    path("import/jobs/<str:job>/status/", views.roster_import_job_status, name="roster_import_job_status"),
    path("import/jobs/<str:job>/report/", views.roster_import_job_report, name="roster_import_job_report"),
]
