"""Plans, form assignments and work queue items as the REST API shows them and takes them
(camelCase, like the events). Writes are checked here for shape only; the services check
the rest (templates, roles, values) and their errors come back per field."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from healix.api.rest import JsonValueField, StrictSerializer
from plans.models import FormAssignment, FormAssignmentStatus, Plan, PlanStatus, WorkQueueItem

__all__ = [
    "FormAssignmentSerializer",
    "FormSubmitSerializer",
    "PlanCreateSerializer",
    "PlanSerializer",
    "PlanUpdateSerializer",
    "WorkQueueItemSerializer",
    "WorkQueueItemUpdateSerializer",
]


class RoleAssignmentSerializer(serializers.Serializer):
    roleId = serializers.CharField(max_length=100)
    userId = serializers.UUIDField()


class PlanSerializer(serializers.ModelSerializer):
    templateName = serializers.CharField(source="template.name")
    userId = serializers.UUIDField(source="user_id")
    riskStatus = serializers.CharField(source="risk_status")
    startDate = serializers.DateTimeField(source="start_date")
    endDate = serializers.DateTimeField(source="end_date", allow_null=True)
    customFields = serializers.DictField(source="custom_fields", child=serializers.JSONField())
    roleAssignments = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")

    class Meta:
        model = Plan
        fields = [
            "id",
            "templateName",
            "userId",
            "title",
            "status",
            "riskStatus",
            "startDate",
            "endDate",
            "customFields",
            "roleAssignments",
            "createdAt",
        ]
        read_only_fields = fields

    @extend_schema_field(RoleAssignmentSerializer(many=True))
    def get_roleAssignments(self, plan: Plan) -> list[dict[str, str]]:
        return [
            {"roleId": assignment.role.role_id, "userId": str(assignment.user_id)}
            for assignment in plan.role_assignments.all()
        ]


class PlanCreateSerializer(StrictSerializer):
    templateName = serializers.CharField(max_length=200)
    userId = serializers.UUIDField(help_text="The person the plan is for.")
    roleAssignments = RoleAssignmentSerializer(
        many=True,
        required=False,
        help_text="Who holds which role; the primary role defaults to userId.",
    )
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    startDate = serializers.DateTimeField(required=False)
    endDate = serializers.DateTimeField(required=False, allow_null=True)
    customFields = serializers.DictField(
        child=JsonValueField(), required=False, help_text="Custom field values by name."
    )


class PlanUpdateSerializer(StrictSerializer):
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    status = serializers.ChoiceField(choices=PlanStatus.choices, required=False)
    riskStatus = serializers.CharField(max_length=100, required=False, allow_blank=True)
    endDate = serializers.DateTimeField(required=False, allow_null=True)
    customFields = serializers.DictField(
        child=JsonValueField(allow_null=True),
        required=False,
        help_text="Merged name by name; null clears a value.",
    )


class SubmissionSerializer(serializers.Serializer):
    data = serializers.DictField(child=serializers.JSONField())
    submittedAt = serializers.DateTimeField(source="submitted_at")
    submittedBy = serializers.UUIDField(source="submitted_by_id", allow_null=True)


class FormAssignmentSerializer(serializers.ModelSerializer):
    planId = serializers.UUIDField(source="plan_id")
    formName = serializers.CharField(source="definition.form.name")
    userId = serializers.UUIDField(source="user_id")
    status = serializers.ChoiceField(choices=FormAssignmentStatus.choices)
    prefill = serializers.DictField(child=serializers.JSONField())
    assignedAt = serializers.DateTimeField(source="assigned_at")
    submission = serializers.SerializerMethodField()

    class Meta:
        model = FormAssignment
        fields = [
            "id",
            "planId",
            "formName",
            "userId",
            "status",
            "prefill",
            "assignedAt",
            "submission",
        ]
        read_only_fields = fields

    @extend_schema_field(SubmissionSerializer(allow_null=True))
    def get_submission(self, assignment: FormAssignment) -> dict | None:
        submission = getattr(assignment, "submission", None)
        return SubmissionSerializer(submission).data if submission is not None else None


class FormSubmitSerializer(StrictSerializer):
    data = serializers.DictField(
        child=JsonValueField(), help_text="The form's field values by field name."
    )


class WorkQueueItemSerializer(serializers.ModelSerializer):
    workQueueName = serializers.CharField(source="queue.name")
    planId = serializers.UUIDField(source="plan_id")
    ticketNumber = serializers.IntegerField(source="ticket_number")
    createdAt = serializers.DateTimeField(source="created_at")
    serviceLocation = serializers.CharField(source="service_location.name", allow_null=True)
    queuePosition = serializers.IntegerField(source="queue_position", allow_null=True)
    status = serializers.CharField(source="status.status_id")
    updatedAt = serializers.DateTimeField(source="updated_at")

    class Meta:
        model = WorkQueueItem
        fields = [
            "id",
            "workQueueName",
            "planId",
            "title",
            "ticketNumber",
            "createdAt",
            "priority",
            "serviceLocation",
            "queuePosition",
            "status",
            "updatedAt",
        ]
        read_only_fields = fields


class WorkQueueItemUpdateSerializer(StrictSerializer):
    status = serializers.CharField(
        max_length=100, required=False, help_text="A status id of the item's work queue."
    )
    priority = serializers.IntegerField(
        required=False, min_value=-(2**31), max_value=2**31 - 1, help_text="Higher is more urgent."
    )
    serviceLocation = serializers.CharField(
        max_length=200,
        required=False,
        allow_null=True,
        help_text="The name of one of the queue's service locations; null for none.",
    )
    queuePosition = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=2**31 - 1
    )
