"""HTTP API of the workforce's performance."""

urlpatterns: list = []
