"""`/ws/projects/{id}/`: a project's live events (apps.tasks.events) for those who oversee it."""

from channels.db import database_sync_to_async

from apps.live.consumers import LiveConsumer
from apps.orgs.roles import READERS
from apps.projects.selectors import projects_visible

from .events import project_group


@database_sync_to_async
def _sees_project(tenancy, project_id: int) -> bool:
    return projects_visible(tenancy=tenancy).filter(pk=project_id).exists()


class ProjectConsumer(LiveConsumer):
    """Owners, managers and viewers of the project's organization; anyone else is closed with 4404,
    as is a project of another organization or one that does not exist."""

    async def groups_for_connection(self):
        project_id = int(self.scope["url_route"]["kwargs"]["project_id"])
        if self.tenancy.role not in READERS or not await _sees_project(self.tenancy, project_id):
            return None
        return [project_group(project_id)]
