from django.urls import path

from radiology import ingest

from . import views

urlpatterns = [
    path("orders", views.OrderListCreateView.as_view(), name="radiology-order-list"),
    path("orders/<int:pk>", views.OrderDetailView.as_view(), name="radiology-order-detail"),
    path("orders/<int:pk>/transition", views.OrderTransitionView.as_view(), name="radiology-order-transition"),
    path("studies", views.StudyListView.as_view(), name="radiology-study-list"),
    path("studies/<int:pk>", views.StudyDetailView.as_view(), name="radiology-study-detail"),
    path("studies/<int:pk>/link", views.StudyLinkView.as_view(), name="radiology-study-link"),
    path("studies/<int:pk>/unlink", views.StudyUnlinkView.as_view(), name="radiology-study-unlink"),
    path("studies/<int:pk>/reject", views.StudyRejectView.as_view(), name="radiology-study-reject"),
    path("reconciliation", views.ReconciliationListView.as_view(), name="radiology-reconciliation-list"),
    path("reconciliation/<int:pk>", views.ReconciliationDetailView.as_view(), name="radiology-reconciliation-detail"),
    path(
        "studies/<int:pk>/series/<int:series_pk>/thumbnail",
        views.SeriesThumbnailView.as_view(),
        name="radiology-series-thumbnail",
    ),
    path(
        "studies/<int:pk>/series/<int:series_pk>/instances/<str:instance_id>/frames/<int:frame>/rendered",
        views.RenderedFrameView.as_view(),
        name="radiology-rendered-frame",
    ),
    path("uploads", ingest.streaming(views.UploadView.as_view()), name="radiology-upload"),
    path("dicom-web-auth", views.DicomWebAuthView.as_view(), name="radiology-dicomweb-auth"),
    path("dicom-web/<path:path>", views.DicomWebView.as_view(), name="radiology-dicomweb"),
]
