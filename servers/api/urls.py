from rest_framework.routers import SimpleRouter

from servers.api import views

router = SimpleRouter()
router.register("servers", views.ServerViewSet, basename="server")
router.register("plans", views.PlanViewSet, basename="plan")

urlpatterns = router.urls
