"""`manage.py audit_verify [--org SLUG]`: walk the hash chains; exit 1 at the first broken event."""

import json
import sys

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError

from apps.audit.services import audit_seal
from apps.audit.verification import audit_verify


class Command(BaseCommand):
    help = "Verify the audit log's hash chains (one organization's, or the platform's and every organization's)."

    def add_arguments(self, parser):
        parser.add_argument("--org", help="organization slug; default: every chain")
        parser.add_argument("--seal", action="store_true", help="seal events old enough before verifying")

    def handle(self, *args, **options):
        Organization = apps.get_model("orgs", "Organization")
        if options["org"]:
            org = Organization.objects.filter(slug=options["org"]).first()
            if org is None:
                raise CommandError(f"no organization with slug {options['org']!r}")
            chains = [(org.slug, org.id)]
        else:
            chains = [("(platform)", None)] + list(Organization.objects.order_by("id").values_list("slug", "id"))
        if options["seal"]:
            self.stderr.write(f"sealed {audit_seal()} events")
        failed = False
        for label, org_id in chains:
            result = audit_verify(organization_id=org_id)
            self.stdout.write(f"{label}: " + json.dumps(result))
            failed = failed or not result["ok"]
        if failed:
            self.stderr.write("audit chain verification FAILED")
            sys.exit(1)
        self.stderr.write("audit chains verified")
