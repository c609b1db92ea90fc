"""The admin's user forms, bound to users.User: Django's own are bound to auth.User, swapped out.

Each Meta is Django's own (django.contrib.auth.forms) with this project's model.
"""

from django.contrib.auth import forms

from .models import User


class UserAdminChangeForm(forms.UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"
        field_classes = {"username": forms.UsernameField}


class UserAdminCreationForm(forms.AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("username",)
        field_classes = {"username": forms.UsernameField}
