"""Production settings: secure by default; `manage.py check --deploy` passes with these."""

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403
from config.settings.base import PAYMENTS_WEBHOOK_SECRET, SECRET_KEY, env
from config.weak_secrets import refusal, weak_secrets

# gunicorn and Celery run no system checks: every production process refuses weak secrets here,
# when it loads its settings (manage.py commands also run core/checks.py).
if _weak := weak_secrets(
    {"DJANGO_SECRET_KEY": SECRET_KEY, "PAYMENTS_WEBHOOK_SECRET": PAYMENTS_WEBHOOK_SECRET}
):
    raise ImproperlyConfigured(refusal(_weak))

DEBUG = False
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# SECURITY
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/stable/howto/deployment/checklist/
# The proxy in front terminates TLS and says so in this header.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Health probes arrive over plain HTTP from inside the cluster: never redirect them.
SECURE_REDIRECT_EXEMPT = [r"^health/"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# Browsers remember HTTPS-only for a year once this header was seen.
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True

# STATIC FILES
# ------------------------------------------------------------------------------
# WhiteNoise serves compressed, hashed files straight from gunicorn: no separate file server.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
