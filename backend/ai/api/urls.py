from django.urls import path

from . import views

urlpatterns = [
    path("jobs", views.JobListCreateView.as_view(), name="ai-job-list"),
    path("jobs/<uuid:pk>", views.JobDetailView.as_view(), name="ai-job-detail"),
    path("jobs/<uuid:pk>/cancel", views.JobCancelView.as_view(), name="ai-job-cancel"),
    path("jobs/<uuid:pk>/artifacts/<str:name>", views.ArtifactView.as_view(), name="ai-job-artifact"),
    path("results/<int:pk>/review", views.ResultReviewView.as_view(), name="ai-result-review"),
    path("results/<int:pk>/amend", views.ResultAmendView.as_view(), name="ai-result-amend"),
    path("worklist", views.SignOffWorklistView.as_view(), name="ai-sign-off-worklist"),
    path("expression-uploads", views.ExpressionUploadView.as_view(), name="ai-expression-upload"),
    path("models", views.ModelListView.as_view(), name="ai-model-list"),
]
