"""Sign-in rate limits (ACCOUNT_RATE_LIMITS in clinic/settings.py): a whole shift signs in from one
address at 8 a.m., while guessing passwords stays limited per account and per address."""

from django.contrib.auth.hashers import make_password
from django.test import Client
from django.urls import reverse

from clinic.models import Membership, Role, User
from tests.conftest import PASSWORD

WRONG = "wrong-password-123"
REFUSED = "Too many failed login attempts"


def make_staff(clinic, count: int, prefix: str = "staff") -> list[User]:
    """`count` physiologists of `clinic` with PASSWORD (hashed once: the test hasher is cheap, but 60 is 60)."""
    hashed = make_password(PASSWORD)
    users = User.objects.bulk_create(
        [User(email=f"{prefix}{number}@{clinic.slug}.test", password=hashed) for number in range(count)]
    )
    Membership.objects.bulk_create([Membership(clinic=clinic, user=user, roles=[Role.PHYSIOLOGIST]) for user in users])
    return users


def sign_in(email: str, password: str, address: str = "192.0.2.10"):
    client = Client(REMOTE_ADDR=address)
    response = client.post(reverse("account_login"), {"login": email, "password": password})
    return client, response


def test_sixty_staff_sign_in_from_one_address_within_a_minute(clinic_a):
    statuses = []
    for user in make_staff(clinic_a, 60):
        client, response = sign_in(user.email, PASSWORD)
        statuses.append((response.status_code, client.session.get("_auth_user_id") == str(user.pk)))
    assert statuses == [(302, True)] * 60


def test_failed_sign_ins_lock_the_account_whatever_the_address(clinic_a):
    (user,) = make_staff(clinic_a, 1)
    for number in range(5):
        sign_in(user.email, WRONG, address=f"198.51.100.{number}")
    client, response = sign_in(user.email, PASSWORD, address="198.51.100.99")
    assert REFUSED in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_failed_sign_ins_from_one_address_are_limited_across_accounts(clinic_a):
    *guessed, untouched = make_staff(clinic_a, 6)
    for user in guessed:  # 4 wrong passwords each: no single account reaches its limit of 5
        for _ in range(4):
            sign_in(user.email, WRONG)
    client, response = sign_in(untouched.email, PASSWORD)
    assert REFUSED in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_sign_in_takes_at_most_37_statements(clinic_a, django_assert_max_num_queries):
    """16 of them the rate limits': per rate (address and account), lock, read, write and unlock, once
    to count the attempt and once to give it back; each a single statement (clinic/pgcache.py)."""
    (user,) = make_staff(clinic_a, 1)
    with django_assert_max_num_queries(37):
        client, response = sign_in(user.email, PASSWORD)
    assert client.session.get("_auth_user_id") == str(user.pk)
