from django.urls import path

from . import views

app_name = "common"
urlpatterns = [
    path("", views.workbench, name="workbench"),
    path("audit/", views.audit_list, name="audit_list"),
    path("audit/<int:seq>/", views.audit_detail, name="audit_detail"),
]
