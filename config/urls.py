from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from panel.api.schema import DocsRateThrottle
from panel.staff_mfa import admin_login_redirect

# The docs' own throttle scope, not the anonymous one that failed logins use up.
DOCS = {"throttle_classes": [DocsRateThrottle]}

urlpatterns = [
    path("", include("metrics.urls")),  # first: its staff page lives under admin/
    path("admin/login/", admin_login_redirect),  # before admin's own: one sign-in for all
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(**DOCS), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file of its own: no inline script,
    # so the content security policy holds on the docs page too.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", **DOCS),
        name="api-docs",
    ),
    path("api/v1/", include("config.api_router")),
    path("servers/", include("servers.urls")),
    path("", include("panel.urls")),
]
