"""The REST API's routes: /api/v1/... and the OpenAPI schema with its docs page."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from panel.api.schema import DocsRateThrottle

# The docs' own throttle scope, not the anonymous one that failed logins use up.
DOCS = {"throttle_classes": [DocsRateThrottle]}

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(**DOCS), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema", **DOCS), name="api-docs"),
    path("v1/", include("panel.api.urls")),
]
