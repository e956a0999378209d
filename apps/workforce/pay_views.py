"""HTTP API of the workforce's pay."""

urlpatterns: list = []
