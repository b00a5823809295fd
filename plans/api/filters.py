"""Query filters of the plan resources (django-filter): each is an exact match; a value of the
wrong type is a 400 naming the parameter."""

import django_filters

from plans.models import FormAssignment, FormAssignmentStatus, Plan, PlanStatus, WorkQueueItem

__all__ = ["FormAssignmentFilter", "PlanFilter", "WorkQueueItemFilter"]


class PlanFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=PlanStatus.choices)
    templateName = django_filters.CharFilter(field_name="template__name")
    userId = django_filters.UUIDFilter(field_name="user_id")
    riskStatus = django_filters.CharFilter(field_name="risk_status")

    class Meta:
        model = Plan
        fields = ["status", "templateName", "userId", "riskStatus"]


class FormAssignmentFilter(django_filters.FilterSet):
    planId = django_filters.UUIDFilter(field_name="plan_id")
    userId = django_filters.UUIDFilter(field_name="user_id")
    status = django_filters.ChoiceFilter(choices=FormAssignmentStatus.choices)
    formName = django_filters.CharFilter(field_name="definition__form__name")

    class Meta:
        model = FormAssignment
        fields = ["planId", "userId", "status", "formName"]


class WorkQueueItemFilter(django_filters.FilterSet):
    planId = django_filters.UUIDFilter(field_name="plan_id")
    workQueueName = django_filters.CharFilter(field_name="queue__name")
    status = django_filters.CharFilter(field_name="status__status_id")

    class Meta:
        model = WorkQueueItem
        fields = ["planId", "workQueueName", "status"]
