"""Which config key an object on a cluster comes from, so a finding names what to edit.

Every name the fleet gives an object is derived from an entity of the config (`fleet.names`);
this inverts those derivations for the stacks the simulation deployed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from fleet import names
from fleet.model import EnvironmentSpec, FleetSpec, StackSpec, fleet_of
from fleet.objects import ObjectId

_SUBJECT = re.compile(r"^(?P<kind>\S+) (?:(?P<namespace>[^\s/]+)/)?(?P<name>[^\s/]+)")

Origins = dict[tuple[str, str], str]
"""(namespace, name) -> `Pulumi.STACK.yaml fleet:KEY`; name `*` for a whole namespace."""


def origins(models: Mapping[str, StackSpec]) -> Origins:
    """The config key behind each namespace and named object the deployed stacks create."""
    found: Origins = {}
    for stack, model in models.items():
        where = f"Pulumi.{stack}.yaml"
        if isinstance(model, FleetSpec):
            _platform(found, where, model, names.FLUX_NAMESPACE)
            continue
        platform = names.environment_namespace(model.name)
        _platform(found, where, model, platform)
        found[(platform, "*")] = f"{where} fleet:environment"
        _tenants(found, where, model, platform)
    return found


def _platform(found: Origins, where: str, model: StackSpec, platform: str) -> None:
    fleet = fleet_of(model)
    entries = [
        (f"Pulumi.{fleet.stack}.yaml fleet:clusters[{index}]", cluster)
        for index, cluster in enumerate(fleet.clusters)
    ]
    if isinstance(model, EnvironmentSpec):
        entries += [
            (f"{where} fleet:dedicatedClusters[{index}]", cluster)
            for index, cluster in enumerate(model.dedicated_clusters)
        ]
    for key, cluster in entries:
        for name in (
            names.kubeconfig_secret(cluster.name),
            names.remote_infrastructure(cluster.name),
            names.remote_tenants(cluster.name),
        ):
            found[(platform, name)] = key
    for index, component in enumerate(model.infra):
        key = f"{where} fleet:infra[{index}]"
        found[(component.namespace, "*")] = key
        for runs_on in component.clusters:
            found[(platform, names.remote_app(runs_on, component.name))] = key


def _tenants(found: Origins, where: str, env: EnvironmentSpec, platform: str) -> None:
    for t_index, tenant in enumerate(env.tenants):
        at = f"{where} fleet:tenants[{t_index}]"
        keys = [at] + [f"{at}.releases[{r_index}]" for r_index in range(len(tenant.releases))]
        for channel, key in zip(tenant.channels(env.name), keys, strict=True):
            namespace, release = channel.namespace, channel.release
            found[(namespace, "*")] = key
            for a_index, app in enumerate(tenant.apps):
                app_key = f"{at}.apps[{a_index}]"
                found[(namespace, app.name)] = app_key
                for cluster in app.clusters:
                    name = names.remote_tenant_app(cluster, tenant.name, app.name, release)
                    found[(platform, name)] = app_key


def origin_of(subject: str, known: Origins) -> str:
    """The config key behind a finding's subject (`Kind namespace/name ...`), or ``."""
    match = _SUBJECT.match(subject)
    if match is None:
        return ""
    object_id: ObjectId = (match["kind"], match["namespace"] or "", match["name"])
    _, namespace, name = object_id
    if not namespace:
        # A cluster-wide object: a Namespace is known by itself.
        return known.get((name, "*"), "")
    return known.get((namespace, name)) or known.get((namespace, "*"), "")
