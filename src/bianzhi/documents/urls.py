from django.urls import path

from . import views

app_name = "documents"
urlpatterns = [
    path("", views.document_list, name="document_list"),
    path("<int:pk>/", views.document_detail, name="document_detail"),
    path("<int:pk>/document.pdf", views.document_pdf, name="pdf"),
    path("<int:pk>/document.docx", views.document_docx, name="docx"),
    path("<int:pk>/void/", views.document_void, name="document_void"),
]
