"""Decision tables: the columns and rows of a plan template, and their actions.

A template's decision table is its value columns (`RuleColumn`) and its rows (`Rule`), each
row with its cells (keyed by column name) and its ordered actions (`RuleAction`). Everything is
checked on save by rules/validation.py; what runs is rules/services.py.
"""

from django.db import models

from healix.models import OrganizationOwned
from templates.models import (
    IDENTIFIER_REGEX,
    FieldType,
    FormAssignmentDefinition,
    PlanTemplate,
    TemplatePart,
    WorkQueue,
    identifier_validator,
    owned_constraints,
)

__all__ = [
    "ActionKind",
    "DecisionTable",
    "ElapsedUnit",
    "Rule",
    "RuleAction",
    "RuleColumn",
    "Trigger",
]


class DecisionTable(PlanTemplate):
    """A plan template seen as its decision table: the admin's table editor."""

    class Meta:
        proxy = True
        verbose_name = "decision table"


class ColumnType(models.TextChoices):
    TEXT = FieldType.TEXT.value, "Text"
    NUMBER = FieldType.NUMBER.value, "Number"
    BOOLEAN = FieldType.BOOLEAN.value, "Boolean"
    DATE = FieldType.DATE.value, "Date"
    DATETIME = FieldType.DATETIME.value, "Date and time"


class RuleColumn(TemplatePart):
    """One value column: a data reference, or a calculated expression with its type."""

    template = models.ForeignKey(
        PlanTemplate,
        on_delete=models.CASCADE,
        related_name="rule_columns",
    )
    position = models.PositiveIntegerField(
        default=0,
    )
    name = models.CharField(
        max_length=100,
        validators=[identifier_validator],
        help_text="The column's header; the rows' cells are kept under it.",
    )
    reference = models.CharField(
        max_length=300,
        blank=True,
        help_text="A data reference, for example submission.intake.age or plan.riskStatus.",
    )
    expression = models.TextField(
        blank=True,
        help_text=(
            'Or a calculation, for example differenceInDays(now(), lastVal("plan.startDate")).'
        ),
    )
    value_type = models.CharField(
        max_length=10,
        blank=True,
        choices=ColumnType.choices,
        help_text="The type of a calculated column's value (a reference has its field's type).",
    )

    class Meta:
        ordering = ["template", "position", "id"]
        verbose_name = "value column"
        constraints = owned_constraints(
            models.UniqueConstraint(
                fields=["template", "name"],
                name="rulecolumn_name_unique_per_template",
                violation_error_message="The table already has a column of this name.",
            ),
            models.CheckConstraint(
                condition=models.Q(name__regex=IDENTIFIER_REGEX),
                name="rulecolumn_name_is_identifier",
            ),
            models.CheckConstraint(
                condition=(
                    (~models.Q(reference="") & models.Q(expression="") & models.Q(value_type=""))
                    | (models.Q(reference="") & ~models.Q(expression="") & ~models.Q(value_type=""))
                ),
                name="rulecolumn_reference_or_typed_expression",
                violation_error_message=(
                    "Give either a reference, or an expression and its value type."
                ),
            ),
        )

    def __str__(self) -> str:
        return self.name

    @property
    def is_calculated(self) -> bool:
        return bool(self.expression)

    def save(self, *args, **kwargs) -> None:
        # Rows keep their cells under the column's name: a renamed column takes them along.
        old_name = None
        if self.pk is not None:
            old_name = RuleColumn.objects.filter(pk=self.pk).values_list("name", flat=True).first()
        super().save(*args, **kwargs)
        if old_name and old_name != self.name:
            for rule in Rule.objects.filter(template_id=self.template_id, cells__has_key=old_name):
                rule.cells[self.name] = rule.cells.pop(old_name)
                rule.save(update_fields=["cells"])


def drop_cells_of_deleted_column(sender, instance: "RuleColumn", **_kwargs) -> None:
    """A deleted column's cells go with it (post_delete): a cell of no column could neither be
    evaluated nor cleared in the editor."""
    for rule in Rule.objects.filter(template_id=instance.template_id, cells__has_key=instance.name):
        rule.cells.pop(instance.name, None)
        rule.save(update_fields=["cells"])


class Trigger(models.TextChoices):
    ON_CHANGE = "on_change", "On change (a form submitted, or data a rule changed)"
    INTEGRATION = "integration", "On integration event"
    TIME_ELAPSED = "time_elapsed", "Time elapsed"


class ElapsedUnit(models.TextChoices):
    HOURS = "hours", "hours"
    DAYS = "days", "days"
    WEEKS = "weeks", "weeks"
    MONTHS = "months", "months"


class Rule(TemplatePart):
    """One row of the decision table."""

    template = models.ForeignKey(
        PlanTemplate,
        on_delete=models.CASCADE,
        related_name="rules",
    )
    position = models.PositiveIntegerField(
        default=0,
        help_text="Rows fire in this order.",
    )
    name = models.CharField(
        max_length=200,
    )
    enabled = models.BooleanField(
        default=True,
    )
    trigger = models.CharField(
        max_length=20,
        choices=Trigger.choices,
        default=Trigger.ON_CHANGE,
        verbose_name="when to evaluate",
    )
    subject = models.CharField(
        max_length=100,
        blank=True,
        help_text="On integration event: the subject (empty: any subject of the template).",
    )
    elapsed_reference = models.CharField(
        max_length=300,
        blank=True,
        verbose_name="time elapsed since",
        help_text="Time elapsed: a date or date-time reference, for example plan.startDate.",
    )
    elapsed_amount = models.PositiveIntegerField(
        null=True,
        blank=True,
        verbose_name="amount",
    )
    elapsed_unit = models.CharField(
        max_length=10,
        blank=True,
        choices=ElapsedUnit.choices,
        verbose_name="unit",
    )
    cells = models.JSONField(
        default=dict,
        blank=True,
        help_text="The row's cells by column name, in the shorthand syntax; empty is any value.",
    )

    class Meta:
        ordering = ["template", "position", "id"]
        verbose_name = "rule"
        constraints = owned_constraints(
            models.UniqueConstraint(
                fields=["template", "name"],
                name="rule_name_unique_per_template",
                violation_error_message="The table already has a rule of this name.",
            ),
            models.CheckConstraint(
                condition=models.Q(trigger__in=Trigger.values),
                name="rule_trigger_known",
            ),
            models.CheckConstraint(
                condition=~models.Q(trigger=Trigger.TIME_ELAPSED)
                | (
                    ~models.Q(elapsed_reference="")
                    & models.Q(elapsed_amount__gt=0)
                    & models.Q(elapsed_unit__in=ElapsedUnit.values)
                ),
                name="rule_time_elapsed_complete",
                violation_error_message="Time elapsed needs a reference, an amount and a unit.",
            ),
        )

    def __str__(self) -> str:
        return self.name


class ActionKind(models.TextChoices):
    ASSIGN_FORM = "assign_form", "Assign form"
    SET_DATA_POINT = "set_data_point", "Set data point"
    CREATE_WORK_QUEUE_ITEM = "create_work_queue_item", "Create work queue item"
    CHANGE_WORK_QUEUE_ITEM_STATUS = "change_work_queue_item_status", "Change work queue item status"


class RuleAction(OrganizationOwned):
    """What a row does when it fires; a row's actions run in order."""

    rule = models.ForeignKey(
        Rule,
        on_delete=models.CASCADE,
        related_name="actions",
    )
    position = models.PositiveIntegerField(
        default=0,
    )
    kind = models.CharField(
        max_length=40,
        choices=ActionKind.choices,
    )
    form_assignment = models.ForeignKey(
        FormAssignmentDefinition,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="Assign form: a form assignment the template marks “assigned by rule”.",
    )
    target = models.CharField(
        max_length=300,
        blank=True,
        help_text="Set data point: what to set, for example plan.riskStatus.",
    )
    expression = models.TextField(
        blank=True,
        help_text="Set data point: the new value. Create work queue item: the item's title.",
    )
    work_queue = models.ForeignKey(
        WorkQueue,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="Work queue actions: the queue.",
    )
    status = models.CharField(
        max_length=100,
        blank=True,
        help_text="Work queue actions: a status id of the queue (optional when creating).",
    )

    same_organization_fields = ("rule", "form_assignment", "work_queue")

    class Meta:
        ordering = ["rule", "position", "id"]
        verbose_name = "action"
        constraints = owned_constraints(
            models.CheckConstraint(
                condition=models.Q(kind__in=ActionKind.values),
                name="ruleaction_kind_known",
            ),
        )

    def __str__(self) -> str:
        return self.get_kind_display()

    def save(self, *args, **kwargs) -> None:
        if self.rule_id and not self.organization_id:
            self.organization_id = self.rule.organization_id
        super().save(*args, **kwargs)
