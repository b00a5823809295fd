"""Healix's settings with bench/floor_django.py as the URLconf (bench/api.py's floor)."""

from healix.settings import *  # noqa: F403

ROOT_URLCONF = "bench.floor_django"
