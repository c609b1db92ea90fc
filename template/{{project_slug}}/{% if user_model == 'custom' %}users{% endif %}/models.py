"""The project's own user model (AUTH_USER_MODEL), in place from the project's first migration.

Django advises one for every new project, even one that behaves as Django's own: swapping the
user model once tables point at users means rewriting their migrations and data by hand, while a
field added to this model later is an ordinary migration.
https://docs.djangoproject.com/en/stable/topics/auth/customizing/#using-a-custom-user-model-when-starting-a-project
"""

from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """Django's user as the project's own model: the username is the login, the email optional.

    Point other models at it as settings.AUTH_USER_MODEL (or get_user_model() in code), never at
    this class by import, so they follow the setting.
    """
