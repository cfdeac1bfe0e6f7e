from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from hacontrol.api.metrics import metrics
from hacontrol.ha import views
from hacontrol.ha.signin import SignInView

urlpatterns = [
    path("login/", SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", login_not_required(views.healthz), name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("api/", include("hacontrol.api.urls")),
    path("", views.cluster_list, name="cluster-list"),
    path("clusters/add/", views.cluster_add, name="cluster-add"),
    path("clusters/<int:cluster_id>/", views.cluster_detail, name="cluster-detail"),
    path("clusters/<int:cluster_id>/edit/", views.cluster_edit, name="cluster-edit"),
    path("clusters/<int:cluster_id>/delete/", views.cluster_delete, name="cluster-delete"),
    path("clusters/<int:cluster_id>/check/", views.cluster_check, name="cluster-check"),
    path("clusters/<int:cluster_id>/dns/", views.cluster_dns, name="cluster-dns"),
    path("clusters/<int:cluster_id>/dns/fix/", views.cluster_dns_fix, name="cluster-dns-fix"),
    path("clusters/<int:cluster_id>/tune/", views.cluster_tune, name="cluster-tune"),
    path("clusters/<int:cluster_id>/jobs/", views.job_list, name="job-list"),
    path("clusters/<int:cluster_id>/members/add/", views.member_add, name="member-add"),
    path("clusters/<int:cluster_id>/members/<int:member_id>/", views.member_detail, name="member-detail"),
    path("clusters/<int:cluster_id>/members/<int:member_id>/edit/", views.member_edit, name="member-edit"),
    path("clusters/<int:cluster_id>/members/<int:member_id>/remove/", views.member_remove, name="member-remove"),
    path("clusters/<int:cluster_id>/members/<int:member_id>/forget/", views.member_forget, name="member-forget"),
    path("clusters/<int:cluster_id>/members/<int:member_id>/activate/", views.member_activate, name="member-activate"),
    path("clusters/<int:cluster_id>/members/<int:member_id>/accept-host-key/", views.member_accept_host_key,
         name="member-accept-host-key"),
    path("clusters/<int:cluster_id>/members/<int:member_id>/backups/<str:name>/", views.member_backup,
         name="member-backup"),
    path("clusters/<int:cluster_id>/members/<int:member_id>/backups/<str:name>/restore/", views.member_restore,
         name="member-restore"),
    path("clusters/<int:cluster_id>/upgrade/", views.upgrade_start, name="upgrade-start"),
    path("upgrades/<int:upgrade_id>/", views.upgrade_detail, name="upgrade-detail"),
    path("upgrades/<int:upgrade_id>/run/", views.upgrade_run, name="upgrade-run"),
    path("upgrades/<int:upgrade_id>/override/", views.upgrade_override, name="upgrade-override"),
    path("upgrades/<int:upgrade_id>/abort/", views.upgrade_abort, name="upgrade-abort"),
    path("jobs/<int:job_id>/", views.job_detail, name="job-detail"),
    path("jobs/<int:job_id>/confirm/", views.job_confirm, name="job-confirm"),
    path("jobs/<int:job_id>/cancel/", views.job_cancel, name="job-cancel"),
    path("credentials/", views.credential_list, name="credential-list"),
    path("credentials/add/", views.credential_add, name="credential-add"),
    path("credentials/<int:credential_id>/", views.credential_detail, name="credential-detail"),
    path("credentials/<int:credential_id>/edit/", views.credential_edit, name="credential-edit"),
    path("credentials/<int:credential_id>/delete/", views.credential_delete, name="credential-delete"),
    path("audit/", views.audit_list, name="audit-list"),
    path("tokens/", views.token_list, name="token-list"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token-revoke"),
]
