"""Users in the database survive `copier update`: projects of every earlier release, with an
admin user and a group in PostgreSQL, are updated to the release under test, migrate, keep
Django's auth.User (the 0.3.0 migration records `user_model: django` for them) and still log in
to the admin. A fresh copy of the release under test gets its own users.User and logs in the
same way.

Each project runs as a user runs it: `manage.py` with its local settings and its own .env, in an
environment installed from its pyproject.toml; only DATABASE_URL points at this test's database.
"""

import json
import os
import secrets
import subprocess
from pathlib import Path

import pytest
import yaml

from support.boot.services import drop_all, postgres_database, require_postgres
from support.matrix import Combination
from support.project_env import project_requirements, venv_with
from support.releases import current_version
from support.updating import (
    commit_all,
    copy_at,
    earlier_releases,
    release_answers,
    update,
)

pytestmark = pytest.mark.boot

RUN = secrets.token_hex(3)
COMBINATION = Combination("redis", "redis", "django-db", "priority", "none")
ADMIN = {
    "DJANGO_SUPERUSER_USERNAME": "ops",
    "DJANGO_SUPERUSER_PASSWORD": secrets.token_urlsafe(24),
    "DJANGO_SUPERUSER_EMAIL": "ops@example.com",
}
# What a person sees of the users: the model, who exists, and whether the admin lets them in.
LOOK = """
import json
from django.contrib.auth import authenticate, get_user_model
from django.test import Client
User = get_user_model()
client = Client(HTTP_HOST="localhost")
print(json.dumps({
    "model": User._meta.label,
    "users": sorted(User.objects.values_list("username", flat=True)),
    "groups": sorted(User.objects.get(username="ops").groups.values_list("name", flat=True)),
    "authenticated": authenticate(username="ops", password="%(password)s") is not None,
    "logged_in": client.login(username="ops", password="%(password)s"),
    "admin": client.get("/admin/").status_code,
}))
"""
JOIN_GROUP = """
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
get_user_model().objects.get(username="ops").groups.add(Group.objects.create(name="billing"))
"""


def manage(project: Path, database_url: str, *args: str) -> str:
    """`python manage.py ARGS` in the project's own environment, as its README runs it."""
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    venv = venv_with(project_requirements(project), answers["python_version"])
    hidden = ("VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE")
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    env |= ADMIN | {"DATABASE_URL": database_url}
    result = subprocess.run(
        [str(venv / "bin" / "python"), "manage.py", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout


def look(project: Path, database_url: str) -> dict:
    code = LOOK % {"password": ADMIN["DJANGO_SUPERUSER_PASSWORD"]}
    return json.loads(manage(project, database_url, "shell", "-c", code).strip().splitlines()[-1])


def logged_in_as(model: str) -> dict:
    return {
        "model": model,
        "users": ["ops"],
        "groups": ["billing"],
        "authenticated": True,
        "logged_in": True,
        "admin": 200,
    }


@pytest.mark.parametrize("release", [*earlier_releases(), current_version()])
def test_users_survive_updates_and_still_log_in(release, template_repo, tmp_path) -> None:
    require_postgres()
    name = f"cdc_users_{release.replace('.', '_')}_{RUN}"
    database_url = postgres_database(name)
    try:
        answers = release_answers(template_repo, release, COMBINATION)
        answers.pop("user_model", None)  # the release's own default, as a user gets it
        project = copy_at(template_repo, release, answers, tmp_path / "project")
        manage(project, database_url, "migrate", "--noinput")
        manage(project, database_url, "createsuperuser", "--noinput")
        manage(project, database_url, "shell", "-c", JOIN_GROUP)
        if release == current_version():
            # A new project has its own user model from its first migration.
            assert look(project, database_url) == logged_in_as("users.User")
            return
        assert look(project, database_url) == logged_in_as("auth.User")
        commit_all(project, "generated")

        update(project)

        recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())
        assert recorded["_commit"] == current_version()
        assert recorded["user_model"] == "django"
        manage(project, database_url, "migrate", "--noinput")
        assert "No changes detected" in manage(project, database_url, "makemigrations", "--check")
        assert look(project, database_url) == logged_in_as("auth.User")
    finally:
        drop_all(name)
