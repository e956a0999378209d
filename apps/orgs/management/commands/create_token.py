"""`manage.py create_token --org SLUG --role ROLE --name NAME [--user EMAIL] [--expires-days N]`."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.exceptions import APIException

from apps.accounts.services import user_by_email
from apps.orgs.models import Membership, Organization
from apps.orgs.roles import Role
from apps.orgs.services import token_create


class Command(BaseCommand):
    help = (
        "Create an API token and print its secret alone on the last line. Without --user the token acts "
        "as a new service-account member with that role."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True)
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--name", required=True)
        parser.add_argument("--user", help="email of the member the token acts as")
        parser.add_argument("--expires-days", type=int, dest="expires_days")

    def handle(self, *args, org, role, name, user, expires_days, **options):
        organization = Organization.objects.filter(slug=org, is_active=True).first()
        if organization is None:
            raise CommandError(f"no active organization with slug {org!r}")
        try:
            with transaction.atomic():
                if user:
                    acting = user_by_email(user)
                    membership = Membership.objects.filter(
                        organization=organization, user=acting, status=Membership.Status.ACTIVE
                    ).first()
                    if acting is None or membership is None:
                        raise CommandError(f"{user} is not an active member of {org}")
                    token, secret = token_create(
                        organization=organization, actor=acting, actor_role=membership.role, name=name,
                        role=role, expires_days=expires_days, user=acting,
                    )
                else:
                    # The command line speaks with the organization owner's authority.
                    owner = (
                        Membership.objects.filter(organization=organization, role=Role.OWNER,
                                                  status=Membership.Status.ACTIVE)
                        .order_by("id").select_related("user").first()
                    )
                    if owner is None:
                        raise CommandError(f"{org} has no active owner")
                    token, secret = token_create(
                        organization=organization, actor=owner.user, actor_role=Role.OWNER, name=name,
                        role=role, expires_days=expires_days, service_account=True,
                    )
        except APIException as exc:
            raise CommandError(str(exc.detail)) from exc
        expiry = f", expires {token.expires_at:%Y-%m-%d}" if token.expires_at else ""
        self.stderr.write(
            f"token {token.name!r} ({token.prefix}…) for {token.user.email} in {organization.slug} "
            f"as {token.role}{expiry}; the secret is shown only now:"
        )
        self.stdout.write(secret)
