"""Django's and allauth's authentication backends, with the signed-in person read by SQL compiled once.

Every request reads its user (`get_user`, from the session's user id): through the ORM that was about
0.19 ms of CPU, most of it compiling the same query; run compiled (clinic.compiled), about 0.04 (issue 11).
Signing in, passwords and permissions are the parents' own.
"""

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend

from clinic.compiled import CompiledQuery, columns_of
from clinic.models import User

USER_BY_ID = CompiledQuery(lambda user_id: User.objects.filter(pk=user_id), user_id=-1)


def user_by_id(user_id) -> User | None:
    """The user with this id as the ORM would read it, or None (Django's `ModelBackend.get_user`)."""
    rows = USER_BY_ID.rows(user_id=user_id)
    return User.from_db("default", columns_of(User), rows[0]) if rows else None


class CompiledGetUser:
    def get_user(self, user_id):
        user = user_by_id(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None


class ModelBackend(CompiledGetUser, DjangoModelBackend):
    pass


class AuthenticationBackend(CompiledGetUser, AllauthBackend):
    pass


# Sessions signed in before the backends moved here name their parents; `clinic.sessionstore` reads them as
# these, so nobody is signed out by the move. Needed until such sessions have expired (SESSION_COOKIE_AGE).
RENAMED = {
    "django.contrib.auth.backends.ModelBackend": "clinic.auth_backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend": "clinic.auth_backends.AuthenticationBackend",
}
