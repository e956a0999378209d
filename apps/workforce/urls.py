from .access_views import urlpatterns as access
from .exams_views import urlpatterns as exams
from .pay_views import urlpatterns as pay
from .performance_views import urlpatterns as performance
from .profiles_views import urlpatterns as profiles

urlpatterns = [*profiles, *access, *exams, *pay, *performance]
