"""What the template models share: identifier names, field types, typed fields."""

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from healix.models import OrganizationOwned

__all__ = [
    "CHOICE_TYPES",
    "IDENTIFIER_PATTERN",
    "IDENTIFIER_REGEX",
    "FieldType",
    "TypedField",
    "identifier_validator",
    "owned_constraints",
    "typed_field_constraints",
]

# Names that rules and expressions read as dotted paths (submission.<form>.<field>), so they
# must be identifiers: no spaces, no dots.
IDENTIFIER_PATTERN = r"[A-Za-z_][A-Za-z0-9_-]{0,99}"
# For PostgreSQL's check constraints, where $ means the end of the string.
IDENTIFIER_REGEX = rf"^{IDENTIFIER_PATTERN}$"
identifier_validator = RegexValidator(
    # \Z, not $: Python's $ also matches before a trailing newline, which PostgreSQL refuses.
    rf"^{IDENTIFIER_PATTERN}\Z",
    "Use letters, digits, '_' or '-', starting with a letter or '_' (no spaces or dots).",
)


class FieldType(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    BOOLEAN = "boolean", "Boolean"
    CHOICE = "choice", "Choice (one of)"
    CHOICES = "choices", "Choices (any of)"
    DATE = "date", "Date"
    DATETIME = "datetime", "Date and time"


CHOICE_TYPES = (FieldType.CHOICE, FieldType.CHOICES)


def owned_constraints(*extra: models.BaseConstraint) -> list[models.BaseConstraint]:
    """The base tenancy constraint plus a model's own."""
    return [*OrganizationOwned.Meta.constraints, *extra]


class TypedField(models.Model):
    """A named, typed value: a form's field or a template's custom field."""

    name = models.CharField(
        max_length=100,
        validators=[identifier_validator],
    )
    label = models.CharField(
        max_length=200,
        blank=True,
    )
    field_type = models.CharField(
        max_length=10,
        choices=FieldType.choices,
        verbose_name="type",
    )
    required = models.BooleanField(
        default=False,
    )
    choices = ArrayField(
        models.CharField(max_length=100),
        default=list,
        blank=True,
        help_text="The allowed values of a choice or choices field.",
    )

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.name} ({self.field_type})"

    def clean(self) -> None:
        super().clean()
        if self.field_type in CHOICE_TYPES and not self.choices:
            raise ValidationError({"choices": "A choice field needs at least one value."})
        if self.field_type not in CHOICE_TYPES and self.choices:
            raise ValidationError({"choices": "Only choice fields have values to choose from."})
        if len(set(self.choices)) != len(self.choices):
            raise ValidationError({"choices": "Each value may appear only once."})


def typed_field_constraints(prefix: str) -> list[models.BaseConstraint]:
    return [
        models.CheckConstraint(
            condition=models.Q(field_type__in=FieldType.values),
            name=f"{prefix}_type_known",
        ),
        models.CheckConstraint(
            condition=models.Q(name__regex=IDENTIFIER_REGEX),
            name=f"{prefix}_name_is_identifier",
        ),
        models.CheckConstraint(
            condition=(
                models.Q(field_type__in=CHOICE_TYPES, choices__len__gt=0)
                | (~models.Q(field_type__in=CHOICE_TYPES) & models.Q(choices__len=0))
            ),
            name=f"{prefix}_choices_only_for_choice_types",
        ),
    ]
