"""Channel-layer group names; one function per audience so senders and consumers agree."""


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def organization_group(organization_id: int) -> str:
    return f"org.{organization_id}"
