import gc
import os

from django.core.wsgi import get_wsgi_application

from healix.api.request_bodies import SizedApiBodies

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healix.settings")
# A chunked API body is read (up to the limit) before Django, which reads only sized bodies.
application = SizedApiBodies(get_wsgi_application())
# What Django built while loading (apps, models, URLs) lives as long as the worker: frozen, the
# garbage collector stops walking it again and again under load.
gc.freeze()
