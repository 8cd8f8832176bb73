from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.login, name="login"),
    path("login/verify/", views.login_totp, name="login_totp"),
    path("login/enrol/", views.login_totp_enrol, name="login_totp_enrol"),
    path("logout/", views.logout, name="logout"),
    path("totp/", views.totp_page, name="totp"),
    path("password/", views.password_change, name="password_change"),
    path("users/", views.user_list, name="user_list"),
    path("users/new/", views.user_create, name="user_create"),
    path("users/<int:pk>/", views.user_detail, name="user_detail"),
    path("users/<int:pk>/active/", views.user_set_active, name="user_set_active"),
    path("users/<int:pk>/totp-reset/", views.user_totp_reset, name="user_totp_reset"),
    path("tokens/", views.token_list, name="token_list"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
]
