"""Rules: decision tables, their two languages, evaluation, actions and the audit trail.

The languages are pure library code (`rules.languages.shorthand`, `rules.languages.expressions`, see
docs/rules-languages.md); the tables, triggers and audit trail are in `rules.models` and
`rules.services` (docs/rules.md).
"""
