"""The API's views: reads over the models, and every change through one action.

Each change is: type the input (a serializer), call the action, answer. A refusal propagates as
it is and :mod:`hacontrol.api.errors` renders it; a job is handed to a worker and answered
``202 Accepted`` with its URL in ``Location`` and in the body.
"""

from __future__ import annotations

import django_filters
from django.db import transaction
from django.db.models import Model, Prefetch, QuerySet
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.serializers import Serializer

from hacontrol.api import serializers as s
from hacontrol.ha import actions, display, probe
from hacontrol.ha.jobs import enqueue
from hacontrol.ha.models import AuditEvent, Cluster, Credential, Job, JobStatus, Member, StateChange, Upgrade
from hacontrol.ha.tasks import check_dns_task, probe_cluster_task
from hacontrol.ha.uploads import refusal, stream_installers

# What a change may answer besides its success: the refusal of an action, or of the API itself.
REFUSALS = {400: s.RefusalSerializer, 403: s.RefusalSerializer, 404: s.RefusalSerializer, 409: s.RefusalSerializer}
JOB_ACCEPTED = {202: s.JobSerializer, **REFUSALS}
# A DNS server or a host that could not be read answers 502, naming what went wrong.
UNREACHABLE = {502: s.RefusalSerializer}


class ApiViewSet(viewsets.GenericViewSet):
    """Authenticated by REST framework (a token, or the session with CSRF; REST framework exempts
    its views from LoginRequiredMiddleware), so a request with neither is answered 401, not
    redirected to the sign-in page as the console's pages are."""

    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def actor(self) -> str:
        return self.request.user.get_username()

    @sensitive_variables()  # a member's password, key and passphrase among them
    def arguments(self, serializer_class: type[Serializer]) -> dict:
        """The request's values, typed by ``serializer_class`` (only those given)."""
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def job_accepted(self, job: Job) -> Response:
        """Hand the job to a worker and answer 202 with its URL."""
        enqueue(job)
        data = s.JobSerializer(job, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": data["url"]})

    def created(self, instance: Model, serializer_class: type[Serializer]) -> Response:
        data = serializer_class(instance, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED, headers={"Location": data["url"]})


class ReadViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    pass


# Clusters ----------------------------------------------------------------------------------------


@extend_schema_view(list=extend_schema(summary="Clusters"),
                    retrieve=extend_schema(summary="A cluster, with the configuration drift between its members"))
@method_decorator(sensitive_post_parameters("dns_key_secret"), name="dispatch")
class ClusterViewSet(ReadViewSet):
    queryset = Cluster.objects.with_member_counts().order_by("name")
    serializer_class = s.ClusterSerializer

    def get_serializer_class(self) -> type[s.ClusterSerializer]:
        return s.ClusterDetailSerializer if self.action == "retrieve" else s.ClusterSerializer

    @extend_schema(summary="Create a cluster", request=s.ClusterInput, responses={201: s.ClusterSerializer, **REFUSALS})
    @sensitive_variables()  # the TSIG secret
    def create(self, request: Request) -> Response:
        cluster = actions.create_cluster(self.actor(), **self.arguments(s.ClusterInput))
        return self.created(self.get_queryset().get(pk=cluster.pk), s.ClusterSerializer)

    @extend_schema(summary="Edit a cluster", request=s.ClusterEditInput, responses={200: s.ClusterSerializer, **REFUSALS})
    @sensitive_variables()  # the TSIG secret
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        actions.edit_cluster(self.actor(), self.get_object(), **self.arguments(s.ClusterEditInput))
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(summary="Delete an empty cluster (no host is touched)", responses={204: None, **REFUSALS},
                   parameters=[OpenApiParameter("reason", str, description="Kept in the audit log")])
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        actions.delete_cluster(self.actor(), self.get_object(), reason=request.query_params.get("reason", ""))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Check every member now (the states change in the cluster's members)", request=None,
                   responses={202: s.AcceptedSerializer, **REFUSALS})
    @action(detail=True, methods=["post"])
    def check(self, request: Request, pk: str | None = None) -> Response:
        return self.task_accepted(probe_cluster_task, "checking every member now")

    @extend_schema(summary="Check the round-robin DNS name now (the answer lands in dns_report)", request=None,
                   responses={202: s.AcceptedSerializer, **REFUSALS})
    @action(detail=True, methods=["post"])
    def dns(self, request: Request, pk: str | None = None) -> Response:
        return self.task_accepted(check_dns_task, "resolving the round-robin DNS name now")

    @extend_schema(summary="Fix DNS, 1: the planned change of the round-robin name, its records read from the zone's "
                           "primary server now", responses={200: s.DnsPlanSerializer, **REFUSALS, **UNREACHABLE})
    @action(detail=True, methods=["get"], url_path="dns/plan")
    @sensitive_variables()  # the TSIG key reads the zone
    def dns_plan(self, request: Request, pk: str | None = None) -> Response:
        cluster = self.get_object()
        return Response(s.DnsPlanSerializer(s.dns_plan(cluster, actions.plan_dns(cluster))).data)

    @extend_schema(summary="Fix DNS, 2: the job that sends the plan as one signed update (only if the plan is still "
                           "the one seen; deletions need confirm_deletions)", request=s.DnsFixInput,
                   responses={**JOB_ACCEPTED, **UNREACHABLE})
    @action(detail=True, methods=["post"], url_path="dns/fix")
    @sensitive_variables()  # the TSIG key reads the zone
    def dns_fix(self, request: Request, pk: str | None = None) -> Response:
        return self.job_accepted(actions.fix_dns(self.actor(), self.get_object(), **self.arguments(s.DnsFixInput)))

    @extend_schema(summary="HA tuning: write the heartbeat settings to every member (a job)", request=s.TuneInput,
                   responses=JOB_ACCEPTED)
    @action(detail=True, methods=["post"])
    def tune(self, request: Request, pk: str | None = None) -> Response:
        values = self.arguments(s.TuneInput)
        return self.job_accepted(actions.tune(
            self.actor(), self.get_object(), interval=values.get("heartbeat_interval"),
            max_downtime=values.get("heartbeat_max_downtime"), reason=values.get("reason", "")))

    def task_accepted(self, task, detail: str) -> Response:
        """Hand a look at the cluster's hosts to a worker; its findings land on the cluster."""
        cluster = self.get_object()
        transaction.on_commit(lambda: task.enqueue(cluster.pk))
        url = reverse("api:cluster-detail", args=[cluster.pk], request=self.request)
        return Response({"detail": detail}, status=status.HTTP_202_ACCEPTED, headers={"Location": url})


# Members -----------------------------------------------------------------------------------------


@extend_schema_view(list=extend_schema(summary="Members, with their states"), retrieve=extend_schema(summary="A member"))
@method_decorator(sensitive_post_parameters("password", "private_key", "key_passphrase"), name="dispatch")
class MemberViewSet(ReadViewSet):
    queryset = Member.objects.defer("password", "private_key", "key_passphrase", "findings")
    serializer_class = s.MemberSerializer
    filterset_fields = ["cluster", "name", "credential"]

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "maintenance": Job.objects.members_in_maintenance()}

    @extend_schema(summary="Add a member: records it and starts the job that configures its host",
                   request=s.MemberAddInput, responses=JOB_ACCEPTED)
    @sensitive_variables()
    def create(self, request: Request) -> Response:
        values = self.arguments(s.MemberAddInput)
        return self.job_accepted(actions.add_member(self.actor(), values.pop("cluster"), **values))

    @extend_schema(summary="Edit a member (a new priority is a job: 202)", request=s.MemberEditInput,
                   responses={200: s.MemberSerializer, **JOB_ACCEPTED})
    @sensitive_variables()
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        values = self.arguments(s.MemberEditInput)
        member = self.get_object()
        job = actions.edit_member(self.actor(), member, **values)
        if job is not None:
            return self.job_accepted(job)
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(summary="Remove a member: stop it, take its name out, unregister, forget (a job)",
                   request=s.RemoveInput, responses=JOB_ACCEPTED)
    @action(detail=True, methods=["post"])
    def remove(self, request: Request, pk: str | None = None) -> Response:
        return self.job_accepted(actions.remove_member(self.actor(), self.get_object(), **self.arguments(s.RemoveInput)))

    @extend_schema(summary="Forget a member whose host is gone for good, without touching it (a job)",
                   request=s.ForgetInput, responses=JOB_ACCEPTED)
    @action(detail=True, methods=["post"])
    def forget(self, request: Request, pk: str | None = None) -> Response:
        return self.job_accepted(actions.forget_member(self.actor(), self.get_object(), **self.arguments(s.ForgetInput)))

    @extend_schema(summary="Set Active: make this member the Active one by Central's own failover (a job)",
                   request=s.ReasonInput, responses=JOB_ACCEPTED)
    @action(detail=True, methods=["post"])
    def switchover(self, request: Request, pk: str | None = None) -> Response:
        return self.job_accepted(actions.switchover(self.actor(), self.get_object(), **self.arguments(s.ReasonInput)))

    @extend_schema(summary="Pin the host key the member's host presented (give the fingerprint you checked)",
                   request=s.AcceptKeyInput, responses={200: s.HostKeyAcceptedSerializer, **REFUSALS})
    @action(detail=True, methods=["post"], url_path="accept-host-key")
    def accept_host_key(self, request: Request, pk: str | None = None) -> Response:
        values = self.arguments(s.AcceptKeyInput)
        old, new = actions.accept_host_key(self.actor(), self.get_object(),
                                           seen_fingerprint=values.get("fingerprint", ""), reason=values.get("reason", ""))
        return Response({"old": old, "new": new})

    @extend_schema(summary="What the member's page shows: findings, overrides, masked preferences and their diff "
                           "against the Active member's, drift, backups, timeline, jobs",
                   responses={200: s.MemberDetailsSerializer, **REFUSALS})
    @action(detail=True, methods=["get"])
    def details(self, request: Request, pk: str | None = None) -> Response:
        member = Member.objects.select_related("cluster", "credential").get(pk=self.get_object().pk)
        return Response(s.MemberDetailsSerializer(display.member_facts(member)).data)

    @extend_schema(summary="One backup of preferences.cfg on the member's host, read now, every secret masked",
                   responses={200: s.BackupSerializer, **REFUSALS, **UNREACHABLE})
    @action(detail=True, methods=["get"], url_path=r"backups/(?P<name>[^/]+)")
    @sensitive_variables()  # the file as read, before it is masked
    def backup(self, request: Request, name: str, pk: str | None = None) -> Response:
        member = Member.objects.select_related("credential").get(pk=self.get_object().pk)
        return Response({"name": name, "text": probe.read_backup(member, name)})

    @extend_schema(summary="Restore a backup: it becomes the member's preferences.cfg (the current file backed up "
                           "first), Central restarts and is checked (a job)", request=s.RestoreInput,
                   responses=JOB_ACCEPTED)
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str | None = None) -> Response:
        values = self.arguments(s.RestoreInput)
        return self.job_accepted(actions.restore_backup(self.actor(), self.get_object(), backup=values.get("backup", ""),
                                                        reason=values.get("reason", "")))


# Credentials --------------------------------------------------------------------------------------


@extend_schema_view(list=extend_schema(summary="Saved credentials, with the members using each"),
                    retrieve=extend_schema(summary="A saved credential and where it is used"))
@method_decorator(sensitive_post_parameters("password", "private_key", "key_passphrase"), name="dispatch")
class CredentialViewSet(ReadViewSet):
    queryset = Credential.objects.all()
    serializer_class = s.CredentialSerializer

    def get_queryset(self) -> QuerySet[Credential]:
        # Changed or deleted by an action: the whole credential; shown: what it stores, not its secrets.
        return self.shown() if self.action in ("list", "retrieve") else self.queryset

    @staticmethod
    def shown() -> QuerySet[Credential]:
        users = Member.objects.select_related("cluster").only("name", "credential_id", "cluster__name")
        return (Credential.objects.with_use_counts().with_secrets_stored().order_by("name")
                .prefetch_related(Prefetch("members", users.order_by("cluster__name", "priority"))))

    @extend_schema(summary="Save a credential for members to use (secrets write-only)", request=s.CredentialInput,
                   responses={201: s.CredentialSerializer, **REFUSALS})
    @sensitive_variables()
    def create(self, request: Request) -> Response:
        credential = actions.create_credential(self.actor(), **self.arguments(s.CredentialInput))
        return self.created(self.shown().get(pk=credential.pk), s.CredentialSerializer)

    @extend_schema(summary="Edit a credential: every member using it uses the new one from its next connection on "
                           "(secrets left out stay)", request=s.CredentialEditInput,
                   responses={200: s.CredentialSerializer, **REFUSALS})
    @sensitive_variables()
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        credential = actions.edit_credential(self.actor(), self.get_object(), **self.arguments(s.CredentialEditInput))
        return Response(self.get_serializer(self.shown().get(pk=credential.pk)).data)

    @extend_schema(summary="Delete an unused credential (refused naming the members that use it)",
                   responses={204: None, **REFUSALS},
                   parameters=[OpenApiParameter("reason", str, description="Kept in the audit log")])
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        actions.delete_credential(self.actor(), self.get_object(), reason=request.query_params.get("reason", ""))
        return Response(status=status.HTTP_204_NO_CONTENT)


# Jobs --------------------------------------------------------------------------------------------


@extend_schema_view(list=extend_schema(summary="Jobs, newest first"),
                    retrieve=extend_schema(summary="A job with its steps and their output"))
class JobViewSet(ReadViewSet):
    queryset = Job.objects.all()
    filterset_fields = ["cluster", "member", "status", "kind", "upgrade"]

    def get_queryset(self) -> QuerySet[Job]:
        return self.queryset.prefetch_related("steps") if self.action == "retrieve" else self.queryset

    def get_serializer_class(self) -> type[s.JobSerializer]:
        return s.JobDetailSerializer if self.action == "retrieve" else s.JobSerializer

    @extend_schema(summary="Confirm the Micetro step a waiting job asks for: it goes on", request=None,
                   responses=JOB_ACCEPTED)
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str | None = None) -> Response:
        return self.job_accepted(actions.confirm_job(self.actor(), self.get_object()))

    @extend_schema(summary="Cancel a job: it stops after its current step and undoes what ran", request=s.ReasonInput,
                   responses={200: s.JobSerializer, **JOB_ACCEPTED})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        job = actions.cancel_job(self.actor(), self.get_object(), **self.arguments(s.ReasonInput))
        if job.status == JobStatus.QUEUED:
            return self.job_accepted(job)
        return Response(s.JobSerializer(job, context=self.get_serializer_context()).data)


# Upgrades ----------------------------------------------------------------------------------------


@extend_schema_view(list=extend_schema(summary="Upgrades, newest first"), retrieve=extend_schema(summary="An upgrade"))
class UpgradeViewSet(ReadViewSet):
    queryset = Upgrade.objects.all()
    serializer_class = s.UpgradeSerializer
    filterset_fields = ["cluster", "status"]

    def initialize_request(self, request, *args, **kwargs):
        drf_request = super().initialize_request(request, *args, **kwargs)
        if self.action == "create":
            stream_installers(request)
        return drf_request

    @extend_schema(summary="Start an upgrade with an uploaded installer or one already on the hosts",
                   request={"multipart/form-data": s.UpgradeInput, "application/json": s.UpgradeInput},
                   responses={201: s.UpgradeSerializer, 413: s.RefusalSerializer, **REFUSALS})
    def create(self, request: Request) -> Response:
        request.data  # noqa: B018 - the body streams through InstallerUploadHandler first
        too_large = refusal(request)
        if too_large:
            raise too_large
        values = self.arguments(s.UpgradeInput)
        upload = values.get("installer")
        stored = actions.store_uploaded_installer(upload) if upload else None
        upgrade = actions.start_upgrade(self.actor(), values["cluster"], installer=stored,
                                        installer_host_path=values.get("installer_host_path", ""),
                                        target_version=values.get("target_version", ""))
        return self.created(upgrade, s.UpgradeSerializer)

    @extend_schema(summary="Run the wizard's current stage (again, after a failure)", request=None,
                   responses=JOB_ACCEPTED)
    @action(detail=True, methods=["post"])
    def run(self, request: Request, pk: str | None = None) -> Response:
        return self.job_accepted(actions.run_upgrade_stage(self.actor(), self.get_object()))

    @extend_schema(summary="Go past failed pre-flight checks (a reason is required)", request=s.ReasonInput,
                   responses={200: s.UpgradeSerializer, **REFUSALS})
    @action(detail=True, methods=["post"])
    def override(self, request: Request, pk: str | None = None) -> Response:
        values = self.arguments(s.ReasonInput)
        upgrade = actions.override_preflight(self.actor(), self.get_object(), reason=values.get("reason", ""))
        return Response(self.get_serializer(upgrade).data)

    @extend_schema(summary="Abort: start again what the upgrade stopped (a job)", request=s.ReasonInput,
                   responses=JOB_ACCEPTED)
    @action(detail=True, methods=["post"])
    def abort(self, request: Request, pk: str | None = None) -> Response:
        return self.job_accepted(actions.abort_upgrade(self.actor(), self.get_object(), **self.arguments(s.ReasonInput)))


# History -----------------------------------------------------------------------------------------


class StateChangeFilter(django_filters.FilterSet):
    cluster = django_filters.NumberFilter(field_name="member__cluster")

    class Meta:
        model = StateChange
        fields = ["cluster", "member", "to_state"]


@extend_schema_view(list=extend_schema(summary="State changes of the members, newest first"))
class StateChangeViewSet(mixins.ListModelMixin, ApiViewSet):
    queryset = StateChange.objects.select_related("member")
    serializer_class = s.StateChangeSerializer
    filterset_class = StateChangeFilter


@extend_schema_view(list=extend_schema(summary="The audit log, newest first"))
class AuditEventViewSet(mixins.ListModelMixin, ApiViewSet):
    queryset = AuditEvent.objects.all()
    serializer_class = s.AuditEventSerializer
    filterset_fields = ["cluster", "action", "outcome", "actor"]


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI from our own static files, its start script a file too: the console's CSP
    allows no inline script or style."""

    template_name = "api/docs.html"
    url_name = "api:schema"
