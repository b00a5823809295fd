"""The two languages of rules: the shorthand syntax of a decision-table cell and expressions.

Pure library code: no models, no database. Import from the modules themselves:
`rules.shorthand` (cells) and `rules.expressions` (expressions). See docs/rules-languages.md.
"""
