"""`manage.py seed_demo`: the demo organization with one user per role; safe to run again."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.accounts.services import generate_password, user_by_email, user_create
from apps.orgs.demo import run_seeders
from apps.orgs.models import Membership, Organization
from apps.orgs.roles import Role
from apps.orgs.services import member_add, organization_create

DEMO_SLUG = "demo"
DEMO_USERS = [
    ("owner@demo.test", Role.OWNER),
    ("manager@demo.test", Role.MANAGER),
    ("reviewer@demo.test", Role.REVIEWER),
    ("annotator1@demo.test", Role.ANNOTATOR),
    ("annotator2@demo.test", Role.ANNOTATOR),
    ("annotator3@demo.test", Role.ANNOTATOR),
    ("viewer@demo.test", Role.VIEWER),
]


class Command(BaseCommand):
    help = "Create the demo organization and one user per role, printing their passwords once."

    def handle(self, *args, **options):
        created = []
        with transaction.atomic():
            org = Organization.objects.filter(slug=DEMO_SLUG).first()
            for email, role in DEMO_USERS:
                user = user_by_email(email)
                password = None
                if user is None:
                    password = generate_password()
                    user = user_create(email=email, password=password, name=email.split("@")[0].title())
                if org is None:
                    org = organization_create(slug=DEMO_SLUG, name="Demo", owner=user)
                    created.append((email, role, password or "(existing user)"))
                    continue
                if not Membership.objects.filter(organization=org, user=user,
                                                 status=Membership.Status.ACTIVE).exists():
                    member_add(organization=org, user=user, role=role)
                    created.append((email, role, password or "(existing user)"))
            users = {email: user_by_email(email) for email, _ in DEMO_USERS}
            content = run_seeders(organization=org, users=users)
        for line in content:
            self.stdout.write(line)
        credentials = settings.VAR_DIR / "demo_credentials.txt"
        if not created:
            hint = f" (passwords were saved in {credentials})" if credentials.exists() else ""
            if not content:
                self.stdout.write(f"demo organization is already seeded; nothing created{hint}")
            return
        lines = [f"{'email':<24} {'role':<10} password", f"{'-' * 24} {'-' * 10} {'-' * 16}"]
        lines += [f"{email:<24} {role:<10} {password}" for email, role, password in created]
        table = "\n".join(lines)
        self.stdout.write(f"demo organization '{DEMO_SLUG}': created {len(created)} member(s)\n{table}")
        credentials.parent.mkdir(parents=True, exist_ok=True)
        with credentials.open("a") as out:
            out.write(table + "\n")
        credentials.chmod(0o600)
        self.stdout.write(f"(also saved in {credentials})")
