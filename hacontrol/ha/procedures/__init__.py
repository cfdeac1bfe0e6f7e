"""The vendor's HA procedures as data: each job kind's steps, and what it works on."""

from hacontrol.ha.models import JobKind
from hacontrol.ha.procedures import cluster, dns, members, upgrade
from hacontrol.ha.procedures.base import Procedure

REGISTRY: dict[JobKind, Procedure] = {
    procedure.kind: procedure for procedure in [*members.PROCEDURES, *cluster.PROCEDURES, *dns.PROCEDURES, *upgrade.PROCEDURES]
}
assert set(REGISTRY) == set(JobKind), "every job kind has a procedure"

__all__ = ["REGISTRY", "Procedure"]
