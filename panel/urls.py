from allauth.account import views as allauth_views
from django.contrib.auth import views as auth_views
from django.urls import path

from panel import account_views, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("jobs/", views.job_list, name="job-list"),
    path("jobs/<uuid:pk>/", views.job_detail, name="job-detail"),
    path("jobs/<uuid:pk>/panel/", views.job_panel, name="job-panel"),
    path(
        "login/",
        # allauth's: second factor, passkeys and throttling (also at accounts/login/).
        allauth_views.LoginView.as_view(),
        name="login",
    ),
    path("account/ssh-keys/", views.ssh_key_list, name="ssh-key-list"),
    path("account/ssh-keys/<int:pk>/delete/", views.ssh_key_delete, name="ssh-key-delete"),
    path("account/activity/", account_views.activity_list, name="activity-list"),
    path("account/sessions/", account_views.session_list, name="session-list"),
    path(
        "account/sessions/end-others/",
        account_views.sessions_end_others,
        name="sessions-end-others",
    ),
    path("account/sessions/<str:session_key>/end/", account_views.session_end, name="session-end"),
    path("account/tokens/", account_views.token_list, name="token-list"),
    path("account/tokens/<str:token_key>/revoke/", account_views.token_revoke, name="token-revoke"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "account/password/",
        account_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "account/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
]
