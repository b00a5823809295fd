"""Secrets at rest: model fields whose column holds a Fernet token, never the clear text.

The keys come from one environment variable, HEALIX_ENCRYPTION_KEYS: comma-separated Fernet
keys, the first encrypts, every one decrypts (`cryptography`'s MultiFernet). It has no default,
not even in development: a key everybody knows would protect nothing. To rotate, put a
new key first, deploy, run `manage.py reencrypt_secrets` (every stored value is re-encrypted
under the first key, `MultiFernet.rotate`), then drop the old key.

Instances hold the clear value; only the database sees tokens. A value written as `Raw(text)`
is stored as it is: `rewrite_column()` (the re-encryption, the migrations) writes tokens so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django import forms
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.db.models.functions import Cast

__all__ = [
    "KEYS_SETTING",
    "EncryptedJSONField",
    "EncryptedTextField",
    "Raw",
    "UndecryptableValue",
    "check_keys",
    "decrypt",
    "encrypt",
    "encrypted_fields",
    "new_key",
    "rewrite_column",
    "rotate",
]

KEYS_SETTING = "HEALIX_ENCRYPTION_KEYS"
# Clear values kept per process: a worker reads the same integration's secret and headers for
# every delivery, and a decryption costs ~15 µs; a few thousand small strings are nothing.
DECRYPTED_CACHE_SIZE = 4096
# Rows rewritten per transaction by rewrite_column(): short row locks, few round trips.
REWRITE_BATCH = 500


class UndecryptableValue(ImproperlyConfigured):
    """A stored token that none of the configured keys opens: a key was dropped too early."""


class Raw(str):
    """A value to store as it is: a token (no second encryption), or the clear text that a
    reverse migration puts back."""


def new_key() -> str:
    """A fresh key for HEALIX_ENCRYPTION_KEYS."""
    return Fernet.generate_key().decode()


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured(
            f"{KEYS_SETTING} is not set: secrets are encrypted at rest with it. Generate a key "
            'with python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())" (make run and make test make their own).'
        )
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError:
        raise ImproperlyConfigured(
            f"{KEYS_SETTING} holds a value that is not a Fernet key "
            "(32 url-safe base64-encoded bytes); keys are separated by commas."
        ) from None


def _keys() -> tuple[str, ...]:
    return tuple(key.strip() for key in settings.HEALIX_ENCRYPTION_KEYS if key.strip())


def check_keys() -> None:
    """Raise ImproperlyConfigured now if HEALIX_ENCRYPTION_KEYS is set but malformed."""
    if _keys():
        _fernet(_keys())


def encrypt(text: str) -> Raw:
    return Raw(_fernet(_keys()).encrypt(text.encode()).decode())


@lru_cache(maxsize=DECRYPTED_CACHE_SIZE)
def _decrypt(keys: tuple[str, ...], token: str) -> str:
    try:
        return _fernet(keys).decrypt(token.encode()).decode()
    except InvalidToken:
        raise UndecryptableValue(
            f"A stored secret cannot be decrypted with any key of {KEYS_SETTING}: the key it "
            "was encrypted with was removed before `manage.py reencrypt_secrets` ran."
        ) from None


def decrypt(token: str) -> str:
    return _decrypt(_keys(), token)


def rotate(token: str) -> Raw:
    """`token` encrypted again under the first key (its timestamp kept)."""
    try:
        return Raw(_fernet(_keys()).rotate(token.encode()).decode())
    except InvalidToken:
        raise UndecryptableValue(f"A stored token opens with no key of {KEYS_SETTING}.") from None


class EncryptedTextField(models.TextField):
    """Text, stored encrypted. The empty text stays empty: there is nothing to hide in it."""

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "" or isinstance(value, Raw):
            return value
        return encrypt(value)

    def from_db_value(self, value: str | None, expression, connection) -> str | None:
        return decrypt(value) if value else value


class EncryptedJSONField(models.TextField):
    """A JSON value (a dict of custom headers), stored as an encrypted JSON text."""

    def get_prep_value(self, value: Any) -> Any:
        if value is None or isinstance(value, Raw):
            return value
        return encrypt(json.dumps(value))

    def from_db_value(self, value: str | None, expression, connection) -> Any:
        return None if value is None else json.loads(decrypt(value))

    def to_python(self, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    def value_to_string(self, obj: models.Model) -> str:
        return json.dumps(self.value_from_object(obj))

    def formfield(self, **kwargs) -> forms.Field:
        # The admin's strict parser, as for every other JSON input; imported here because it
        # reaches DRF, whose settings import the models this module is loaded by.
        from healix.admin.json_forms import StrictJSONFormField

        return StrictJSONFormField(**{"required": not self.blank, **kwargs})


def encrypted_fields() -> list[tuple[type[models.Model], models.Field]]:
    """Every (model, field) of the project whose column holds tokens."""
    from django.apps import apps

    return [
        (model, field)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField | EncryptedJSONField)
    ]


def rewrite_column(model: type[models.Model], name: str, change: Callable[[str], str]) -> int:
    """Replace every stored (raw) non-empty value of `model.name` by `change(value)`, batch by
    batch, each batch's rows locked from reading to writing (a value the application writes
    meanwhile is not overwritten). Works on migrations' historical models too. How many."""
    manager = model._default_manager
    rows = manager.annotate(_raw=Cast(name, models.TextField())).order_by("pk")
    changed, last = 0, None
    while True:
        with transaction.atomic(using=manager.db):
            batch = rows if last is None else rows.filter(pk__gt=last)
            found = list(batch.select_for_update().values_list("pk", "_raw")[:REWRITE_BATCH])
            if not found:
                return changed
            updates = [model(pk=pk, **{name: Raw(change(raw))}) for pk, raw in found if raw]
            manager.bulk_update(updates, [name])
        changed += len(updates)
        last = found[-1][0]
