"""/api/v1/: the panel's REST API. Each app contributes its routes; all names live in `api:`."""

from django.urls import include, path, re_path
from rest_framework.routers import SimpleRouter

from panel.api import views

app_name = "api"

router = SimpleRouter()
router.register("jobs", views.JobViewSet, basename="job")
router.register("tokens", views.TokenViewSet, basename="token")
router.register("ssh-keys", views.SshKeyViewSet, basename="ssh-key")

urlpatterns = [
    path("", include("servers.api.urls")),
    path("", include("nodes.api.urls")),
    *router.urls,
    # Last: anything else under /api/v1/ answers a JSON 404 in the API's error shape, not HTML.
    re_path(r"^", views.api_not_found),
]
