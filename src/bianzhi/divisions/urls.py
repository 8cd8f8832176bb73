from django.urls import path

from . import views

app_name = "divisions"
urlpatterns = [
    path("", views.division_list, name="division_list"),
    path("<str:code>/", views.division_detail, name="division_detail"),
    path("<str:code>/add-town/", views.division_add_town, name="division_add_town"),
]
