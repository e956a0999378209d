"""`manage.py create_user EMAIL --org SLUG --role ROLE [--password P]`."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.exceptions import APIException

from apps.accounts.services import user_for_command
from apps.orgs.models import Organization
from apps.orgs.roles import Role
from apps.orgs.services import member_add


class Command(BaseCommand):
    help = "Add a member to an organization (the user is created if new; a generated password is printed last)."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--org", required=True)
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--password")

    def handle(self, *args, email, org, role, password, **options):
        organization = Organization.objects.filter(slug=org, is_active=True).first()
        if organization is None:
            raise CommandError(f"no active organization with slug {org!r}")
        try:
            with transaction.atomic():
                user, generated = user_for_command(email=email, password=password)
                membership = member_add(organization=organization, user=user, role=role)
        except APIException as exc:
            raise CommandError(str(exc.detail)) from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stderr.write(f"{user.email} is now {membership.role} of {organization.slug} (member {membership.pk})")
        if generated:
            self.stderr.write(f"password of {user.email}:")
            self.stdout.write(generated)
