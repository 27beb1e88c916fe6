from rest_framework.routers import SimpleRouter

from nodes.api import views

router = SimpleRouter()
router.register("nodes", views.NodeViewSet, basename="node")
router.register("templates", views.TemplateViewSet, basename="template")

urlpatterns = router.urls
