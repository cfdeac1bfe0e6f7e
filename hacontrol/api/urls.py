"""The API under /api/: the resources, the OpenAPI schema and its documentation page."""

from django.contrib.auth.decorators import login_required
from django.urls import path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter

from hacontrol.api import views

app_name = "api"

router = SimpleRouter()
router.register("clusters", views.ClusterViewSet, basename="cluster")
router.register("members", views.MemberViewSet, basename="member")
router.register("credentials", views.CredentialViewSet, basename="credential")
router.register("jobs", views.JobViewSet, basename="job")
router.register("upgrades", views.UpgradeViewSet, basename="upgrade")
router.register("state-changes", views.StateChangeViewSet, basename="state-change")
router.register("audit", views.AuditEventViewSet, basename="audit-event")

urlpatterns = [
    *router.urls,
    # REST framework authenticates the schema (401 without a token or session), like the resources.
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # A page for people: without a session, the console's sign-in page rather than a 401.
    path("docs/", login_required(views.DocsView.as_view()), name="docs"),
]
