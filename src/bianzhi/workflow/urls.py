from django.urls import path

from . import views

app_name = "workflow"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("done/", views.done, name="done"),
    path("mine/", views.mine, name="mine"),
    path("cases/", views.case_list, name="case_list"),
    path("cases/<int:pk>/", views.case_detail, name="case_detail"),
    path("cases/<int:pk>/act/", views.case_act, name="case_act"),
    path("cases/<int:pk>/withdraw/", views.case_withdraw, name="case_withdraw"),
    path("cases/<int:pk>/revise/", views.case_revise, name="case_revise"),
    path("cases/<int:pk>/form.pdf", views.case_pdf, name="case_pdf"),
    path("cases/<int:pk>/attachments/<int:attachment_id>/", views.attachment, name="attachment"),
    path("apply/hire/", views.apply_hire, name="apply_hire"),
    path("apply/cap/", views.apply_cap, name="apply_cap"),
    path("notifications/", views.notifications, name="notifications"),
    path("processes/", views.process_list, name="process_list"),
    path("processes/<str:code>/edit/", views.process_edit, name="process_edit"),
]
