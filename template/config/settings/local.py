"""Settings for a developer's machine (`manage.py` and `manage.py dev` use these)."""

from config.settings.base import *  # noqa: F403
from config.settings.base import env

# Tracebacks in the browser and static files served by the development server.
DEBUG = env.bool("DJANGO_DEBUG", default=True)
