"""`manage.py create_org SLUG --name NAME --owner EMAIL [--password P] [--phi]`."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.exceptions import APIException

from apps.accounts.services import user_for_command
from apps.orgs.services import organization_create


class Command(BaseCommand):
    help = "Create an organization and its owner; a generated password is printed alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner", required=True, help="owner's email; the user is created if new")
        parser.add_argument("--password", help="the new owner's password (default: generated and printed)")
        parser.add_argument("--phi", action="store_true", help="HIPAA-scoped organization (MFA required)")

    def handle(self, *args, slug, name, owner, password, phi, **options):
        try:
            with transaction.atomic():
                user, generated = user_for_command(email=owner, password=password)
                org = organization_create(slug=slug, name=name, owner=user, phi=phi)
        except APIException as exc:
            raise CommandError(str(exc.detail)) from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stderr.write(f"created organization {org.slug} ({org.name}){' [PHI]' if org.phi else ''} "
                          f"owned by {user.email}")
        if generated:
            self.stderr.write(f"password of {user.email}:")
            self.stdout.write(generated)
