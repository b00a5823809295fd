"""Plan templates as content managers define them: roles, forms, form assignments and
custom fields."""

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models

from healix.models import OrganizationOwned, UserType
from templates.models.base import (
    IDENTIFIER_REGEX,
    TypedField,
    identifier_validator,
    owned_constraints,
    typed_field_constraints,
)

__all__ = [
    "AssignMode",
    "CustomField",
    "Form",
    "FormAssignmentDefinition",
    "FormField",
    "PlanTemplate",
    "Role",
    "TemplatePart",
]


class PlanTemplate(OrganizationOwned):
    name = models.CharField(
        max_length=100,
        validators=[identifier_validator],
        verbose_name="template name",
        help_text="The template's name as events carry it, for example sAI-ERComp.",
    )
    title = models.CharField(
        max_length=200,
        blank=True,
        help_text="A human-readable title shown to staff.",
    )
    description = models.TextField(
        blank=True,
    )
    created_at = models.DateTimeField(
        auto_now_add=True,
    )
    updated_at = models.DateTimeField(
        auto_now=True,
    )

    class Meta:
        ordering = ["organization", "name"]
        verbose_name = "plan template"
        constraints = owned_constraints(
            models.UniqueConstraint(
                fields=["organization", "name"],
                name="plantemplate_name_unique_per_organization",
            ),
        )

    def __str__(self) -> str:
        return self.name


class TemplatePart(OrganizationOwned):
    """Something defined inside one plan template, in the template's organization."""

    template = models.ForeignKey(
        PlanTemplate,
        on_delete=models.CASCADE,
    )

    same_organization_fields = ("template",)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        # A part always lives in its template's organization; inlines need not ask for it.
        if self.template_id and not self.organization_id:
            self.organization_id = self.template.organization_id
        super().save(*args, **kwargs)


class Role(TemplatePart):
    template = models.ForeignKey(
        PlanTemplate,
        on_delete=models.CASCADE,
        related_name="roles",
    )
    role_id = models.CharField(
        max_length=100,
        validators=[identifier_validator],
        verbose_name="role id",
        help_text="No spaces, for example Patient.",
    )
    name = models.CharField(
        max_length=200,
    )
    description = models.TextField(
        blank=True,
    )
    assignable_user_types = ArrayField(
        models.CharField(max_length=5, choices=UserType.choices),
        default=list,
        blank=True,
        help_text="Which user types may hold this role; empty means any.",
    )
    is_primary = models.BooleanField(
        default=False,
        verbose_name="primary",
        help_text="The role of the person the plan is for (at most one per template).",
    )

    class Meta:
        ordering = ["template", "role_id"]
        constraints = owned_constraints(
            models.UniqueConstraint(
                fields=["template", "role_id"],
                name="role_id_unique_per_template",
            ),
            models.UniqueConstraint(
                fields=["template"],
                condition=models.Q(is_primary=True),
                name="one_primary_role_per_template",
                violation_error_message="A template has at most one primary role.",
            ),
            models.UniqueConstraint(
                fields=["template", "id"],
                name="role_template_id_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(role_id__regex=IDENTIFIER_REGEX),
                name="role_id_is_identifier",
            ),
            models.CheckConstraint(
                condition=models.Q(assignable_user_types__contained_by=UserType.values),
                name="role_assignable_user_types_known",
            ),
        )

    def __str__(self) -> str:
        return self.role_id

    def allows(self, user_type: str) -> bool:
        return not self.assignable_user_types or user_type in self.assignable_user_types


class Form(TemplatePart):
    template = models.ForeignKey(
        PlanTemplate,
        on_delete=models.CASCADE,
        related_name="forms",
    )
    name = models.CharField(
        max_length=100,
        validators=[identifier_validator],
        verbose_name="form name",
        help_text="The form's name as events and rules refer to it.",
    )
    title = models.CharField(
        max_length=200,
        blank=True,
    )

    class Meta:
        ordering = ["template", "name"]
        constraints = owned_constraints(
            models.UniqueConstraint(
                fields=["template", "name"],
                name="form_name_unique_per_template",
            ),
            models.UniqueConstraint(
                fields=["template", "id"],
                name="form_template_id_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(name__regex=IDENTIFIER_REGEX),
                name="form_name_is_identifier",
            ),
        )

    def __str__(self) -> str:
        return self.name


class FormField(TypedField):
    form = models.ForeignKey(
        Form,
        on_delete=models.CASCADE,
        related_name="fields",
    )
    position = models.PositiveIntegerField(
        default=0,
        help_text="Order of the field on the form.",
    )

    class Meta:
        ordering = ["form", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["form", "name"],
                name="formfield_name_unique_per_form",
            ),
            *typed_field_constraints("formfield"),
        ]


class CustomField(TypedField, TemplatePart):
    template = models.ForeignKey(
        PlanTemplate,
        on_delete=models.CASCADE,
        related_name="custom_fields",
    )

    class Meta:
        ordering = ["template", "name"]
        constraints = owned_constraints(
            models.UniqueConstraint(
                fields=["template", "name"],
                name="customfield_name_unique_per_template",
            ),
            *typed_field_constraints("customfield"),
        )


class AssignMode(models.TextChoices):
    AT_ONCE = "AT_ONCE", "Assigned at once (when the plan is created)"
    BY_RULE = "BY_RULE", "Assigned only when a rule fires"


class FormAssignmentDefinition(TemplatePart):
    """Which form goes to which role of a template (the product's "tasks")."""

    template = models.ForeignKey(
        PlanTemplate,
        on_delete=models.CASCADE,
        related_name="form_assignment_definitions",
    )
    form = models.ForeignKey(
        Form,
        on_delete=models.CASCADE,
        related_name="assignment_definitions",
    )
    role = models.ForeignKey(
        Role,
        on_delete=models.CASCADE,
        related_name="form_assignment_definitions",
    )
    assign_mode = models.CharField(
        max_length=10,
        choices=AssignMode.choices,
        default=AssignMode.AT_ONCE,
        verbose_name="assigned",
    )
    default_calculations = models.JSONField(
        default=dict,
        blank=True,
        help_text=(
            'Prefill expressions per form field, for example {"slot": '
            '"lastStr(\\"integration.aiEngineTimeSlot.timeSlot\\")"}. Stored as text; '
            "evaluated by the rules engine."
        ),
    )

    same_organization_fields = ("template", "form", "role")

    class Meta:
        ordering = ["template", "form", "role"]
        verbose_name = "form assignment"
        constraints = owned_constraints(
            models.UniqueConstraint(
                fields=["template", "form", "role"],
                name="formassignmentdefinition_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(assign_mode__in=AssignMode.values),
                name="formassignmentdefinition_mode_known",
            ),
        )

    def __str__(self) -> str:
        return f"{self.form} → {self.role}"

    def clean(self) -> None:
        super().clean()
        errors = {}
        if self.form_id and self.template_id and self.form.template_id != self.template_id:
            errors["form"] = "The form belongs to another template."
        if self.role_id and self.template_id and self.role.template_id != self.template_id:
            errors["role"] = "The role belongs to another template."
        if not isinstance(self.default_calculations, dict) or not all(
            isinstance(value, str) for value in self.default_calculations.values()
        ):
            errors["default_calculations"] = (
                "Give an object mapping field names to expression text."
            )
        elif self.form_id:
            field_names = set(self.form.fields.values_list("name", flat=True))
            unknown = sorted(set(self.default_calculations) - field_names)
            if unknown:
                errors["default_calculations"] = (
                    f"Not fields of form {self.form.name}: {', '.join(unknown)}."
                )
        problems = [] if errors else _expression_problems(self.default_calculations)
        if problems:
            errors["default_calculations"] = problems
        if errors:
            raise ValidationError(errors)


def _expression_problems(calculations: dict[str, str]) -> list[str]:
    """Each default calculation that is no expression, with its reason (the rules check its
    data references and type against the form when a rule gives the form)."""
    from rules.languages.expressions import ExpressionSyntaxError, compile_expression

    problems = []
    for name, source in sorted(calculations.items()):
        try:
            compile_expression(source)
        except ExpressionSyntaxError as error:
            problems.append(f"{name}: {error}")
    return problems
