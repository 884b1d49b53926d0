"""Passwords are stored with Argon2id at clinic/hashers.py's parameters; older PBKDF2 hashes still sign in
and are upgraded on the way."""

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import make_password

from tests.conftest import PASSWORD

PRODUCTION_HASHERS = [
    "clinic.hashers.Argon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]


@pytest.fixture
def production_hashers(settings):
    from clinic import settings as clinic_settings

    settings.PASSWORD_HASHERS = clinic_settings.PASSWORD_HASHERS
    assert settings.PASSWORD_HASHERS[:2] == PRODUCTION_HASHERS
    return settings


def test_a_new_password_is_stored_as_argon2id_with_owasp_parameters(production_hashers):
    encoded = make_password("correct horse battery staple")
    assert encoded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")


def test_a_pbkdf2_password_still_signs_in_and_is_upgraded(production_hashers, team_a):
    user = team_a["admin"].user
    user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])
    assert authenticate(username=user.email, password=PASSWORD) == user
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")
