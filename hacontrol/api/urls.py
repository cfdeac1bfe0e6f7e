"""The API under /api/: the resources, the OpenAPI schema and its documentation page."""

from django.contrib.auth.decorators import login_not_required
from django.urls import path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter

from hacontrol.api import views

app_name = "api"

router = SimpleRouter()
router.register("clusters", views.ClusterViewSet, basename="cluster")
router.register("members", views.MemberViewSet, basename="member")
router.register("jobs", views.JobViewSet, basename="job")
router.register("upgrades", views.UpgradeViewSet, basename="upgrade")
router.register("state-changes", views.StateChangeViewSet, basename="state-change")
router.register("audit", views.AuditEventViewSet, basename="audit-event")

urlpatterns = [
    *router.urls,
    # REST framework authenticates it (401 without a token or session), like the resources.
    path("schema/", login_not_required(SpectacularAPIView.as_view()), name="schema"),
    path("docs/", views.DocsView.as_view(), name="docs"),
]
