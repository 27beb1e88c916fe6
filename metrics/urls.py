from django.contrib import admin
from django.urls import path

from metrics import views

app_name = "metrics"
urlpatterns = [
    path("servers/<int:pk>/graphs/", views.server_graphs, name="server-graphs"),
    # Beside the node's admin pages (and before the admin's catch-all in config/urls.py).
    path(
        "admin/nodes/node/<int:pk>/graphs/",
        admin.site.admin_view(views.node_graphs),
        name="node-graphs",
    ),
]
