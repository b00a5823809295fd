"""Plan templates as content managers define them, and the work queues staff work through."""

from templates.models.base import (
    CHOICE_TYPES,
    IDENTIFIER_PATTERN,
    IDENTIFIER_REGEX,
    FieldType,
    TypedField,
    identifier_validator,
    owned_constraints,
    typed_field_constraints,
)
from templates.models.plan_templates import (
    AssignMode,
    CustomField,
    Form,
    FormAssignmentDefinition,
    FormField,
    PlanTemplate,
    Role,
    TemplatePart,
)
from templates.models.work_queues import ServiceLocation, WorkQueue, WorkQueueStatus

__all__ = [
    "CHOICE_TYPES",
    "IDENTIFIER_PATTERN",
    "IDENTIFIER_REGEX",
    "AssignMode",
    "CustomField",
    "FieldType",
    "Form",
    "FormAssignmentDefinition",
    "FormField",
    "PlanTemplate",
    "Role",
    "ServiceLocation",
    "TemplatePart",
    "TypedField",
    "WorkQueue",
    "WorkQueueStatus",
    "identifier_validator",
    "owned_constraints",
    "typed_field_constraints",
]
