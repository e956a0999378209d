"""allauth hooks: sign-up is by invitation only (see apps.orgs.web)."""

from allauth.account.adapter import DefaultAccountAdapter


class InvitationAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        # People join through an invitation link, which creates their account (orgs.web).
        return False
