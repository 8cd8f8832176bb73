from django.urls import path

from . import views

app_name = "funds"
urlpatterns = [
    path("", views.funding_list, name="funding_list"),
    path("funding/set/", views.funding_set, name="funding_set"),
    path("funding/import/", views.funding_import, name="funding_import"),
    path("funding/import/template/", views.funding_import_template, name="funding_import_template"),
    path("funding/import/report/", views.funding_import_report, name="funding_import_report"),
    path("plans/", views.plan_list, name="plan_list"),
    path("plans/apply/", views.apply_plan, name="apply_plan"),
    path("catalogue/", views.catalogue, name="catalogue"),
    path("contracts/", views.contract_list, name="contract_list"),
    path("contracts/new/", views.contract_new, name="contract_new"),
    path("contracts/import/", views.contract_import, name="contract_import"),
    path("contracts/import/template/", views.contract_import_template, name="contract_import_template"),
    path("contracts/import/report/", views.contract_import_report, name="contract_import_report"),
    path("double-dipping/", views.double_dipping, name="double_dipping"),
    path("both-fall/", views.both_fall, name="both_fall"),
    path("conversions/", views.conversion_list, name="conversion_list"),
    path("conversions/new/", views.exit_to_service, name="exit_to_service"),
]
