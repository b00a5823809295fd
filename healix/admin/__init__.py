"""The admin site, its per-organization scoping, and the operations view.

Django's admin autodiscovery imports this package: importing `tenancy` registers the pages of
organizations, users and API keys.
"""

from healix.admin import tenancy  # noqa: F401
