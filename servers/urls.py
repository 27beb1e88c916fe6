from django.urls import path

from servers import views

app_name = "servers"
urlpatterns = [
    path("", views.server_list, name="list"),
    path("<int:pk>/", views.server_detail, name="detail"),
    path("<int:pk>/status/", views.server_status, name="status"),
    path("<int:pk>/jobs/", views.server_jobs, name="jobs"),
    path("<int:pk>/resize/", views.server_resize, name="resize"),
    path("<int:pk>/power/", views.server_power, name="power"),
    path("<int:pk>/rebuild/", views.server_rebuild, name="rebuild"),
    path("<int:pk>/reset-password/", views.server_reset_password, name="reset-password"),
]
