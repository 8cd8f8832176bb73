from django.urls import path

from . import views

app_name = "bodies"
urlpatterns = [
    path("", views.body_list, name="body_list"),
    path("<int:pk>/", views.body_detail, name="body_detail"),
    path("<int:pk>/apply/<str:change>/", views.apply_change, name="apply_change"),
    path("apply/setup/", views.apply_setup, name="apply_setup"),
    path("similar/", views.similar, name="similar"),
    path("applications/", views.case_list, name="case_list"),
    path("import/", views.body_import, name="import"),
    path("import/report/", views.body_import_report, name="import_report"),
    path("import/template/", views.body_import_template, name="import_template"),
]
