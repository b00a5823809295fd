"""Database-level tenancy: composite foreign keys that keep references inside one scope.

Django has no composite foreign keys, so migrations add them with this operation. Given a
model `X` with a foreign key `f` to `Y`, and a scope column `s` present on both (usually
`organization`), it adds `FOREIGN KEY (s_id, f_id) REFERENCES Y (s_id, id)`. PostgreSQL then
refuses any row whose `f` points at a `Y` of another scope, whatever code wrote it. A NULL in
either column skips the check (MATCH SIMPLE), which suits optional references. The check is
immediate (not deferred) so the offending statement itself fails, not a later commit.

`DropSameScopeForeignKey` is its inverse, for a migration that drops the table after it:
reversed, the table comes back first and then its key.
"""

from django.db import migrations

__all__ = ["DropSameScopeForeignKey", "SameScopeForeignKey", "constraint_name"]


def constraint_name(table: str, field_column: str, scope_column: str) -> str:
    # PostgreSQL truncates identifiers at 63 bytes; keep ours short and deterministic.
    name = f"{table}_{field_column}_same_{scope_column.removesuffix('_id')}"
    return name[:63]


class SameScopeForeignKey(migrations.operations.base.Operation):
    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str, field_name: str, scope: str = "organization") -> None:
        self.model_name = model_name
        self.field_name = field_name
        self.scope = scope

    def deconstruct(self):
        return (
            self.__class__.__qualname__,
            [],
            {"model_name": self.model_name, "field_name": self.field_name, "scope": self.scope},
        )

    def state_forwards(self, app_label, state) -> None:
        # The constraint lives only in the database; Django's model state is unchanged.
        pass

    def _parts(self, app_label, state):
        model = state.apps.get_model(app_label, self.model_name)
        field = model._meta.get_field(self.field_name)
        scope_field = model._meta.get_field(self.scope)
        target = field.related_model
        target_scope = target._meta.get_field(self.scope)
        table = model._meta.db_table
        name = constraint_name(table, field.column, scope_field.column)
        return model, field, scope_field, target, target_scope, table, name

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        model, field, scope_field, target, target_scope, table, name = self._parts(
            app_label, to_state
        )
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        qn = schema_editor.quote_name
        schema_editor.execute(
            f"ALTER TABLE {qn(table)} ADD CONSTRAINT {qn(name)} "
            f"FOREIGN KEY ({qn(scope_field.column)}, {qn(field.column)}) "
            f"REFERENCES {qn(target._meta.db_table)} "
            f"({qn(target_scope.column)}, {qn(target._meta.pk.column)})"
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        model, *_rest, table, name = self._parts(app_label, from_state)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        qn = schema_editor.quote_name
        schema_editor.execute(f"ALTER TABLE {qn(table)} DROP CONSTRAINT {qn(name)}")

    def describe(self) -> str:
        return f"Keep {self.model_name}.{self.field_name} inside the same {self.scope}"

    @property
    def migration_name_fragment(self) -> str:
        return f"{self.model_name}_{self.field_name}_same_{self.scope}"


class DropSameScopeForeignKey(SameScopeForeignKey):
    """Drops the key SameScopeForeignKey added (forwards); adds it again (backwards)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        super().database_backwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        super().database_forwards(app_label, schema_editor, from_state, to_state)

    def describe(self) -> str:
        return f"Drop the {self.scope} key of {self.model_name}.{self.field_name}"

    @property
    def migration_name_fragment(self) -> str:
        return f"drop_{super().migration_name_fragment}"
