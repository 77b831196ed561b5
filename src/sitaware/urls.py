from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from sitaware.api.api import api
from sitaware.core import views as core_views
from sitaware.core.login import ThrottledLoginView

urlpatterns = [
    path("", core_views.home, name="home"),
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(next_page="/"), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("assessment/", include("sitaware.assessment.urls")),
    path("intake/", include("sitaware.ingest.urls")),
    path("alerts/", include("sitaware.alerts.urls")),
    path("", include("sitaware.web.urls")),
]
