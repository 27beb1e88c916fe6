"""/api/v1/: every app's API routes in one router (cookiecutter-django's home for them); all names
live in the `api:` namespace. The schema and its docs page are wired in config/urls.py."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from nodes.api.views import NodeViewSet, TemplateViewSet
from panel.api.views import JobViewSet, SshKeyViewSet, TokenViewSet, api_not_found
from servers.api.views import PlanViewSet, ServerViewSet
from traffic.api.views import ServerUsageViewSet

app_name = "api"

router = SimpleRouter()
router.register("servers", ServerViewSet, basename="server")
router.register("plans", PlanViewSet, basename="plan")
router.register("nodes", NodeViewSet, basename="node")
router.register("templates", TemplateViewSet, basename="template")
router.register("jobs", JobViewSet, basename="job")
router.register("tokens", TokenViewSet, basename="token")
router.register("ssh-keys", SshKeyViewSet, basename="ssh-key")
router.register("usage", ServerUsageViewSet, basename="usage")

urlpatterns = [
    *router.urls,
    # Last: anything else under /api/v1/ answers a JSON 404 in the API's error shape, not HTML.
    re_path(r"^", api_not_found),
]
