"""The demo seeding registry: `seed_demo` creates the organization and users, then apps to the right
(projects and tasks, later workforce…) add their demo content from their AppConfig.ready()."""

from collections.abc import Callable

# A seeder takes (organization, {email: user}) and returns lines describing what it created
# (none when everything already exists: seeding is idempotent).
Seeder = Callable[..., list[str]]
_seeders: list[Seeder] = []


def register(seeder: Seeder) -> None:
    if seeder not in _seeders:
        _seeders.append(seeder)


def run_seeders(*, organization, users: dict) -> list[str]:
    lines: list[str] = []
    for seeder in _seeders:
        lines.extend(seeder(organization=organization, users=users))
    return lines
