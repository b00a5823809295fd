"""/api/v1/plans/, /api/v1/form-assignments/, /api/v1/work-queue-items/.

Thin: every write calls plans.services with the API key's service account as the actor, so it
emits the same events as the admin. Everything is scoped to the key's organization; another
organization's rows, and ids that name nothing, are 404.
"""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import mixins, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from healix.api.auth import actor_of, organization_of
from healix.api.idempotency import idempotent
from healix.api.rest import OrganizationScopedView, service_errors
from healix.api.scopes import Scope
from healix.models import User
from plans import services
from plans.api.filters import FormAssignmentFilter, PlanFilter, WorkQueueItemFilter
from plans.api.serializers import (
    FormAssignmentSerializer,
    FormSubmitSerializer,
    PlanCreateSerializer,
    PlanSerializer,
    PlanUpdateSerializer,
    WorkQueueItemSerializer,
    WorkQueueItemUpdateSerializer,
)
from plans.models import FormAssignment, Plan, WorkQueueItem
from templates.models import PlanTemplate

__all__ = [
    "FormAssignmentDetailView",
    "FormAssignmentListView",
    "FormAssignmentSubmitView",
    "PlanDetailView",
    "PlanListView",
    "WorkQueueItemDetailView",
    "WorkQueueItemListView",
]

# The services' field names -> the API's.
PLAN_FIELDS = {
    "template": "templateName",
    "user": "userId",
    "role_assignments": "roleAssignments",
    "title": "title",
    "status": "status",
    "risk_status": "riskStatus",
    "start_date": "startDate",
    "end_date": "endDate",
    "custom_fields": "customFields",
    "plan": "non_field_errors",
}
# The API's names -> the services'.
PLAN_ATTRIBUTES = {api: name for name, api in PLAN_FIELDS.items()}
ITEM_FIELDS = {
    "status": "status",
    "priority": "priority",
    "service_location": "serviceLocation",
    "queue_position": "queuePosition",
    "plan": "non_field_errors",
}

SEED_PLAN_EXAMPLE = OpenApiExample(
    "sAI-ERComp for a patient",
    value={
        "templateName": "sAI-ERComp",
        "userId": "2a925299-aee7-4749-bf10-909d3f6c6770",
        "roleAssignments": [
            {"roleId": "Patient", "userId": "2a925299-aee7-4749-bf10-909d3f6c6770"}
        ],
    },
    request_only=True,
)


def _plans(request: Request):
    return (
        Plan.objects.filter(organization=organization_of(request))
        .select_related("template")
        .prefetch_related("role_assignments__role")
    )


def _user(request: Request, user_id) -> User | None:
    return User.objects.filter(organization=organization_of(request), pk=user_id).first()


# --- plans ---------------------------------------------------------------------------------


class PlanListView(mixins.ListModelMixin, OrganizationScopedView):
    model = Plan
    serializer_class = PlanSerializer
    filterset_class = PlanFilter
    cursor_ordering = ("-created_at", "id")
    read_scope = Scope.PLANS_READ
    write_scope = Scope.PLANS_WRITE

    def organization_queryset(self):
        return _plans(self.request)

    @extend_schema(summary="List plans, newest first")
    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(
        summary="Assign a template to a person",
        request=PlanCreateSerializer,
        responses={201: PlanSerializer},
        examples=[SEED_PLAN_EXAMPLE],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        given = PlanCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        organization = organization_of(request)
        template = PlanTemplate.objects.filter(
            organization=organization, name=data["templateName"]
        ).first()
        if template is None:
            raise ValidationError({"templateName": [f"No template {data['templateName']} here."]})
        person = _user(request, data["userId"])
        if person is None:
            raise ValidationError({"userId": [f"No user {data['userId']} here."]})
        holders, unknown = {}, {}
        for index, assignment in enumerate(data.get("roleAssignments", [])):
            holder = _user(request, assignment["userId"])
            if holder is None:
                unknown[str(index)] = {"userId": [f"No user {assignment['userId']} here."]}
            holders[assignment["roleId"]] = holder
        if unknown:
            raise ValidationError({"roleAssignments": unknown})
        unnamed = "endDate" if "endDate" in data else "non_field_errors"
        with service_errors(PLAN_FIELDS, unnamed=unnamed):
            plan = services.assign_plan(
                actor=actor_of(request),
                template=template,
                user=person,
                role_assignments=holders,
                title=data.get("title", ""),
                start_date=data.get("startDate"),
                end_date=data.get("endDate"),
                custom_fields=data.get("customFields"),
            )
        body = PlanSerializer(_plans(request).get(pk=plan.pk)).data
        return Response(
            body, status=status.HTTP_201_CREATED, headers={"Location": f"/api/v1/plans/{plan.pk}/"}
        )


class PlanDetailView(OrganizationScopedView):
    model = Plan
    serializer_class = PlanSerializer
    read_scope = Scope.PLANS_READ
    write_scope = Scope.PLANS_WRITE

    def organization_queryset(self):
        return _plans(self.request)

    @extend_schema(summary="Read a plan")
    def get(self, request: Request, pk: str) -> Response:
        return Response(PlanSerializer(self.get_object()).data)

    @extend_schema(
        summary="Change a plan's status, risk status, end date, title or custom fields",
        request=PlanUpdateSerializer,
        responses={200: PlanSerializer},
    )
    def patch(self, request: Request, pk: str) -> Response:
        plan = self.get_object()
        given = PlanUpdateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        changes = {PLAN_ATTRIBUTES[name]: value for name, value in given.validated_data.items()}
        # The plan's one constraint over several fields is "endDate >= startDate".
        unnamed = "endDate" if "endDate" in given.validated_data else "non_field_errors"
        with service_errors(PLAN_FIELDS, unnamed=unnamed):
            services.update_plan(actor=actor_of(request), plan=plan, **changes)
        return Response(PlanSerializer(self.get_queryset().get(pk=plan.pk)).data)


# --- form assignments ----------------------------------------------------------------------


def _form_assignments(request: Request):
    return FormAssignment.objects.filter(organization=organization_of(request)).select_related(
        "definition__form", "submission"
    )


class FormAssignmentListView(mixins.ListModelMixin, OrganizationScopedView):
    model = FormAssignment
    serializer_class = FormAssignmentSerializer
    filterset_class = FormAssignmentFilter
    cursor_ordering = ("-assigned_at", "id")
    read_scope = Scope.FORMS_READ

    def organization_queryset(self):
        return _form_assignments(self.request)

    @extend_schema(summary="List form assignments, newest first")
    def get(self, request: Request) -> Response:
        return self.list(request)


class FormAssignmentDetailView(OrganizationScopedView):
    model = FormAssignment
    serializer_class = FormAssignmentSerializer
    read_scope = Scope.FORMS_READ

    def organization_queryset(self):
        return _form_assignments(self.request)

    @extend_schema(summary="Read a form assignment and its submission")
    def get(self, request: Request, pk: str) -> Response:
        return Response(FormAssignmentSerializer(self.get_object()).data)


class FormAssignmentSubmitView(OrganizationScopedView):
    model = FormAssignment
    serializer_class = FormAssignmentSerializer
    write_scope = Scope.FORMS_WRITE

    def organization_queryset(self):
        return _form_assignments(self.request)

    @extend_schema(
        summary="Submit the form of an assignment",
        request=FormSubmitSerializer,
        responses={201: FormAssignmentSerializer},
        examples=[
            OpenApiExample(
                "intake",
                value={"data": {"age": 54, "symptoms": ["pain"], "notes": "Knee"}},
                request_only=True,
            )
        ],
    )
    @idempotent
    def post(self, request: Request, pk: str) -> Response:
        assignment = self.get_object()
        given = FormSubmitSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        with service_errors({"plan": "non_field_errors"}, under="data"):
            services.submit_form(
                actor=actor_of(request), assignment=assignment, data=given.validated_data["data"]
            )
        body = FormAssignmentSerializer(self.get_queryset().get(pk=assignment.pk)).data
        return Response(body, status=status.HTTP_201_CREATED)


# --- work queue items ----------------------------------------------------------------------


def _work_queue_items(request: Request):
    return WorkQueueItem.objects.filter(organization=organization_of(request)).select_related(
        "queue", "status", "service_location"
    )


class WorkQueueItemListView(mixins.ListModelMixin, OrganizationScopedView):
    model = WorkQueueItem
    serializer_class = WorkQueueItemSerializer
    filterset_class = WorkQueueItemFilter
    cursor_ordering = ("-created_at", "id")
    read_scope = Scope.WORK_QUEUES_READ

    def organization_queryset(self):
        return _work_queue_items(self.request)

    @extend_schema(summary="List work queue items, newest first")
    def get(self, request: Request) -> Response:
        return self.list(request)


class WorkQueueItemDetailView(OrganizationScopedView):
    model = WorkQueueItem
    serializer_class = WorkQueueItemSerializer
    read_scope = Scope.WORK_QUEUES_READ
    write_scope = Scope.WORK_QUEUES_WRITE

    def organization_queryset(self):
        return _work_queue_items(self.request)

    @extend_schema(summary="Read a work queue item")
    def get(self, request: Request, pk: str) -> Response:
        return Response(WorkQueueItemSerializer(self.get_object()).data)

    @extend_schema(
        summary="Change an item's status, priority, service location or queue position",
        description="A status change emits workQueueItemStatusUpdated and keeps the old status "
        "in the item's history. All given changes are made together or not at all.",
        request=WorkQueueItemUpdateSerializer,
        responses={200: WorkQueueItemSerializer},
    )
    def patch(self, request: Request, pk: str) -> Response:
        item = self.get_object()
        given = WorkQueueItemUpdateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        actor = actor_of(request)
        changes = {}
        if "priority" in data:
            changes["priority"] = data["priority"]
        if "queuePosition" in data:
            changes["queue_position"] = data["queuePosition"]
        if "serviceLocation" in data:
            changes["service_location"] = self._location(item, data["serviceLocation"])
        if "status" in data:
            changes["status"] = data["status"]
        with service_errors(ITEM_FIELDS):
            services.change_work_queue_item(actor=actor, item=item, **changes)
        return Response(WorkQueueItemSerializer(self.get_queryset().get(pk=item.pk)).data)

    @staticmethod
    def _location(item: WorkQueueItem, name: str | None):
        if name is None:
            return None
        location = item.queue.service_locations.filter(name=name).first()
        if location is None:
            names = ", ".join(item.queue.service_locations.values_list("name", flat=True))
            raise ValidationError(
                {"serviceLocation": [f"{name} is not a service location of this queue: {names}."]}
            )
        return location
