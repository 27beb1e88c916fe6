from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def server_list(request):
    servers = request.user.servers.select_related("node")
    return render(request, "servers/server_list.html", {"servers": servers})
