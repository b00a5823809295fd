"""Admin forms whose validation *is* the service call.

Run-time rows change only through plans/services/, and a service's ValidationError must
appear on the form, not as a server error. So each form calls its service at the end of
validation, inside a savepoint: a refusal becomes form errors and undoes nothing else; a
success leaves the saved object in `form.result`. The admin never calls `.save()`; see
`ServiceBackedAdmin` for the transaction that undoes a success when the page still fails.
"""

from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction

from healix.admin.scoping import ParentOrganizationFormSet
from healix.models import User
from plans import services
from plans.models import Plan, RoleAssignment, WorkQueueItem

__all__ = [
    "PlanAddForm",
    "PlanChangeForm",
    "RoleAssignmentFormSet",
    "ServiceForm",
    "WorkQueueItemAddForm",
    "WorkQueueItemChangeForm",
    "add_service_errors",
]


def add_service_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Show a service's error on `form`: under the field it names, else at the top."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, errors in error.error_dict.items():
        target = name if name in form.fields and name != NON_FIELD_ERRORS else None
        form.add_error(target, errors)


class ServiceForm(forms.ModelForm):
    actor: User | None = None  # the admin sets it per request (see ServiceBackedAdmin.get_form)
    result: Any = None

    def perform(self) -> Any:
        raise NotImplementedError

    def _post_clean(self) -> None:
        # Not the ModelForm's instance validation and construction: the service validates,
        # and it works on model objects it reads itself.
        if self._errors:
            return
        try:
            with transaction.atomic():
                self.result = self.perform()
        except ValidationError as error:
            add_service_errors(self, error)

    # Fields a change form edits. Each carries the value the user saw in a hidden input, so
    # `changed_data` compares against what was on screen, not against the row at POST time:
    # otherwise saving a page would undo whatever a rule or another user changed meanwhile.
    editable_fields: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in self.editable_fields:
            if name in self.fields:
                self.fields[name].show_hidden_initial = True

    def changed_values(self, names) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in names if name in self.changed_data}

    def seen_value(self, name: str) -> Any:
        """The value of `name` as the page showed it (from its hidden initial input)."""
        field = self.fields[name]
        shown = field.hidden_widget().value_from_datadict(
            self.data, self.files, self.add_initial_prefix(name)
        )
        return field.to_python(shown)


class PlanAddForm(ServiceForm):
    class Meta:
        model = Plan
        fields = ("template", "user", "title", "start_date", "end_date", "custom_fields")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "start_date" in self.fields:
            self.fields["start_date"].required = False
            self.fields["start_date"].help_text = "Empty means now."

    def perform(self) -> Plan:
        data = self.cleaned_data
        return services.assign_plan(
            actor=self.actor,
            template=data["template"],
            user=data["user"],
            title=data.get("title", ""),
            start_date=data.get("start_date"),
            end_date=data.get("end_date"),
            custom_fields=data.get("custom_fields") or {},
        )


class PlanChangeForm(ServiceForm):
    editable_fields = ("title", "status", "risk_status", "end_date", "custom_fields")

    class Meta:
        model = Plan
        fields = ("title", "status", "risk_status", "end_date", "custom_fields")

    def perform(self) -> Plan:
        changes = self.changed_values(("title", "status", "risk_status", "end_date"))
        if "custom_fields" in self.changed_data:
            changes["custom_fields"] = custom_field_edits(
                self.seen_value("custom_fields"), self.cleaned_data["custom_fields"]
            )
        if changes:
            services.update_plan(actor=self.actor, plan=self.instance, **changes)
        return self.instance


def custom_field_edits(seen: Any, new: Any) -> Any:
    """Only the custom fields the user edited: update_plan merges key by key, so keys left
    alone keep whatever value they have now, and a key removed in the editor is sent as None
    (clear)."""
    if not isinstance(new, Mapping):
        return new  # the service explains what it wants
    seen = seen if isinstance(seen, Mapping) else {}
    edits = {name: value for name, value in new.items() if seen.get(name, object()) != value}
    edits.update(dict.fromkeys(set(seen) - set(new)))
    return edits


class RoleAssignmentFormSet(ParentOrganizationFormSet):
    """Role holders of a plan: each added or changed row is one `assign_role` call."""

    actor: User | None = None

    def clean(self) -> None:
        super().clean()
        # What the admin's change message reports (a formset's save() normally sets these).
        self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
        if any(self.errors):
            return
        for form in self.forms:
            if not form.has_changed() or self._should_delete_form(form):
                continue
            role = form.cleaned_data.get("role")
            if form.instance.pk and "role" in form.changed_data:
                form.add_error("role", "To give another role, add a row; this one keeps its role.")
                continue
            try:
                with transaction.atomic():
                    assignment = services.assign_role(
                        actor=self.actor,
                        plan=self.instance,
                        role=role,
                        user=form.cleaned_data.get("user"),
                    )
            except ValidationError as error:
                add_service_errors(form, error)
                continue
            if form.instance.pk:
                self.changed_objects.append((assignment, form.changed_data))
            else:
                self.new_objects.append(assignment)

    def save(self, commit: bool = True) -> list[RoleAssignment]:
        return []  # clean() already assigned through the service


class WorkQueueItemAddForm(ServiceForm):
    class Meta:
        model = WorkQueueItem
        fields = (
            "queue",
            "plan",
            "title",
            "priority",
            "service_location",
            "queue_position",
            "status",
        )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "status" in self.fields:
            self.fields["status"].required = False
            self.fields["status"].help_text = "Empty means the queue's first step."

    def perform(self) -> WorkQueueItem:
        data = self.cleaned_data
        return services.create_work_queue_item(
            actor=self.actor,
            queue=data["queue"],
            plan=data["plan"],
            title=data["title"],
            priority=data.get("priority") or 0,
            service_location=data.get("service_location"),
            queue_position=data.get("queue_position"),
            status=data.get("status"),
        )


class WorkQueueItemChangeForm(ServiceForm):
    editable_fields = ("status", "priority", "service_location", "queue_position")

    class Meta:
        model = WorkQueueItem
        fields = ("status", "priority", "service_location", "queue_position")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        queue = self.instance.queue
        # Only this item's queue has meaningful statuses and locations.
        if "status" in self.fields:
            self.fields["status"].queryset = queue.statuses.all()
            self.fields["status"].label = "Status (changing it records the old one)"
        if "service_location" in self.fields:
            self.fields["service_location"].queryset = queue.service_locations.all()

    def perform(self) -> WorkQueueItem:
        changes = self.changed_values(("status", "priority", "service_location", "queue_position"))
        return services.change_work_queue_item(actor=self.actor, item=self.instance, **changes)
