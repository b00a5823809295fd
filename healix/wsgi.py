import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healix.settings")
application = get_wsgi_application()
# What Django built while loading (apps, models, URLs) lives as long as the worker: frozen, the
# garbage collector stops walking it again and again under load.
gc.freeze()
