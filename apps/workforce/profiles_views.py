"""HTTP API of the workforce's profiles."""

urlpatterns: list = []
