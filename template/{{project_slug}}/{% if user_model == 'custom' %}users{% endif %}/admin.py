from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .forms import UserAdminChangeForm, UserAdminCreationForm
from .models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's user admin (lists, search, permissions, password change) for users.User."""

    form = UserAdminChangeForm
    add_form = UserAdminCreationForm
