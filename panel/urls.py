from allauth.account import views as account_views
from django.contrib.auth import views as auth_views
from django.urls import path

from panel import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("jobs/", views.job_list, name="job-list"),
    path("jobs/<uuid:pk>/", views.job_detail, name="job-detail"),
    path("jobs/<uuid:pk>/panel/", views.job_panel, name="job-panel"),
    path(
        "login/",
        # allauth's: second factor, passkeys and throttling (also at accounts/login/).
        account_views.LoginView.as_view(),
        name="login",
    ),
    path("account/ssh-keys/", views.ssh_key_list, name="ssh-key-list"),
    path("account/ssh-keys/<int:pk>/delete/", views.ssh_key_delete, name="ssh-key-delete"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "account/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "account/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
]
