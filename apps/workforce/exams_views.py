"""HTTP API of the workforce's exams."""

urlpatterns: list = []
