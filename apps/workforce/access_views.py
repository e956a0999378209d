"""HTTP API of the workforce's access."""

urlpatterns: list = []
