"""Creating users: one place, so every user has a verified allauth email address when we vouch for it."""

import secrets

from allauth.account.models import EmailAddress
from django.db import transaction

from .models import User


def generate_password() -> str:
    return secrets.token_urlsafe(12)


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None = None,
    name: str = "",
    email_verified: bool = True,
    is_service_account: bool = False,
) -> User:
    """A new user; `password=None` leaves it unusable (invited users set theirs when they accept)."""
    user = User.objects.create_user(
        email=email, password=password, name=name, is_service_account=is_service_account
    )
    user.full_clean(exclude=["password"])
    if not is_service_account:
        EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=email_verified)
    return user


def user_by_email(email: str) -> User | None:
    return User.objects.filter(email__iexact=email.strip()).first()


@transaction.atomic
def user_set_password(*, user: User, password: str, verify_email: bool = False) -> User:
    user.set_password(password)
    user.save(update_fields=["password"])
    if verify_email:
        EmailAddress.objects.update_or_create(
            user=user, email__iexact=user.email, defaults={"email": user.email, "verified": True, "primary": True}
        )
    return user


def user_for_command(*, email: str, password: str | None) -> tuple[User, str | None]:
    """The command line's user lookup: an existing user, or a new one with `password` or a generated one.

    Returns (user, the generated password or None). A password given for an existing user is refused,
    so a typo never silently leaves someone with a password they do not know.
    """
    user = user_by_email(email)
    if user is not None:
        if password:
            raise ValueError(f"{email} exists already; --password applies to new users only")
        return user, None
    generated = None if password else generate_password()
    return user_create(email=email, password=password or generated), generated
