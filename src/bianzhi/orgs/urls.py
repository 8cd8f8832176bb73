from django.urls import path

from . import views

app_name = "orgs"
urlpatterns = [
    path("units/", views.unit_list, name="unit_list"),
    path("units/tree/", views.unit_tree, name="unit_tree"),
    path("units/new/", views.unit_new, name="unit_new"),
    path("units/<int:pk>/", views.unit_detail, name="unit_detail"),
    path("units/<int:pk>/rename/", views.unit_rename, name="unit_rename"),
    path("units/<int:pk>/merge/", views.unit_merge, name="unit_merge"),
    path("units/<int:pk>/abolish/", views.unit_abolish, name="unit_abolish"),
    path("units/<int:pk>/establishment/", views.unit_establishment, name="unit_establishment"),
    path("establishment/", views.establishment_list, name="establishment_list"),
    path("people/", views.person_list, name="person_list"),
    path("people/new/", views.person_new, name="person_new"),
    path("people/<int:pk>/", views.person_detail, name="person_detail"),
    path("people/<int:pk>/reveal/", views.person_reveal, name="person_reveal"),
    path("import/", views.unit_import, name="unit_import"),
    path("import/template/", views.unit_import_template, name="unit_import_template"),
    path("import/report/", views.unit_import_report, name="unit_import_report"),
]
