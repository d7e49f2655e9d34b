from django.urls import path

from . import views

urlpatterns = [
    path("patients/<str:puuid>/board", views.BoardView.as_view(), name="patient-board"),
    path("patients/<str:puuid>/board.pdf", views.BoardPdfView.as_view(), name="patient-board-pdf"),
    path("patients/<str:puuid>/board/share", views.BoardShareView.as_view(), name="patient-board-share"),
]
