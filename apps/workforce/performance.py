"""Workforce: performance (services; plugs into the registries of the apps to its left from ready())."""


def ready() -> None:
    """Register this area's registry entries and signal receivers."""
