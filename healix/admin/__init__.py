"""The admin site, its per-organization scoping, and the operations view.

Nothing is registered here: Django imports this package while it builds the default site
(healix/admin/site.py is inside it), before the site exists. The tenancy pages
(healix/admin/tenancy.py) are registered by healix.apps.HealixAdminConfig once it does.
"""
