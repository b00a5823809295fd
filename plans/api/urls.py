"""Included under /api/v1/ by healix/urls.py."""

from django.urls import path

from plans.api.views import (
    FormAssignmentDetailView,
    FormAssignmentListView,
    FormAssignmentSubmitView,
    PlanDetailView,
    PlanListView,
    WorkQueueItemDetailView,
    WorkQueueItemListView,
)

urlpatterns = [
    path("plans/", PlanListView.as_view(), name="plan-list"),
    path("plans/<uuid:pk>/", PlanDetailView.as_view(), name="plan-detail"),
    path("form-assignments/", FormAssignmentListView.as_view(), name="form-assignment-list"),
    path(
        "form-assignments/<uuid:pk>/",
        FormAssignmentDetailView.as_view(),
        name="form-assignment-detail",
    ),
    path(
        "form-assignments/<uuid:pk>/submit/",
        FormAssignmentSubmitView.as_view(),
        name="form-assignment-submit",
    ),
    path("work-queue-items/", WorkQueueItemListView.as_view(), name="work-queue-item-list"),
    path(
        "work-queue-items/<uuid:pk>/",
        WorkQueueItemDetailView.as_view(),
        name="work-queue-item-detail",
    ),
]
