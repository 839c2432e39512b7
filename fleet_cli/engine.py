"""Running the real Pulumi program offline, under recording mocks (DESIGN.md section 6).

`fleet render`, `fleet validate` and the tests see a stack through this: the program that
`pulumi up` runs, with a mock engine that records what it would create instead of creating it.

The mock monitor records every resource with its URN, parent, provider, dependencies and
inputs (which inputs were secrets, too), refuses duplicate URNs, plays the engine's part for
`additional_secret_outputs`, and answers only the invokes the program is known to make.
"""

from __future__ import annotations

import asyncio
import base64
import json
import runpy
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import MockCallArgs, MockResourceArgs, rpc
from pulumi.runtime import config as runtime_config
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.settings import ROOT, SETTINGS
from pulumi.runtime.stack import wait_for_rpcs
from pulumi.runtime.sync_await import _sync_await

from components import (
    azure_identity,
    clusters,
    environment,
    github,
    gitops_branch,
    kubernetes_objects,
    tree_store,
)
from fleet import objects, outputs, reach
from fleet.config import AksConfig
from fleet.model import ENCRYPTED, FleetSpec, StackSpec, fleet_of
from fleet.objects import K8sObject
from fleet.safety import inventory
from fleet.stackfile import program_dir, read_raw_config
from fleet.summary import placement
from fleet_cli.render import REDACTED, ResourceRecord, StackRender

LOCAL_ORGANIZATION = "organization"
"""The organization of stacks on a local (file) backend."""
_OPTIONS = (
    "protect",
    "retainOnDelete",
    "deleteBeforeReplace",
    "replaceOnChanges",
    "additionalSecretOutputs",
)


def fake_ca(cluster: str) -> str:
    """The PEM of a cluster's made-up certificate authority."""
    return f"-----BEGIN CERTIFICATE-----\nca-of-{cluster}\n-----END CERTIFICATE-----\n"


def fake_entra_kubeconfig(cluster: str) -> str:
    """A user kubeconfig as AKS gives it with local accounts off (format `exec`): kubelogin
    with an interactive device code, and no credential."""
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": cluster,
                    "cluster": {
                        "server": f"https://{cluster}:443",
                        "certificate-authority-data": base64.b64encode(
                            fake_ca(cluster).encode()
                        ).decode(),
                    },
                }
            ],
            "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": cluster}}],
            "current-context": cluster,
            "users": [
                {
                    "name": cluster,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "kubelogin",
                            "args": [
                                "get-token",
                                "--login",
                                "devicecode",
                                "--server-id",
                                "6dae42f8-4368-4678-94ff-3960e28e3630",
                                "--client-id",
                                "80faf920-1908-4b52-b5ef-a8e7bedfc67a",
                                "--tenant-id",
                                FAKE_TENANT,
                                "--environment",
                                "AzurePublicCloud",
                            ],
                        }
                    },
                }
            ],
        }
    )


def fake_kubeconfig(cluster: str) -> str:
    """A kubeconfig that names its cluster, so tests can tell whose it is."""
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": cluster, "cluster": {"server": f"https://{cluster}:6443"}}],
            "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": cluster}}],
            "current-context": cluster,
            "users": [{"name": cluster, "user": {"token": f"token-of-{cluster}"}}],
        }
    )


FAKE_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
FAKE_TENANT = "11111111-1111-1111-1111-111111111111"


def fake_aks_id(resource_group: str, name: str) -> str:
    """An AKS cluster's resource id, in Azure's format (`fleet.reach` reads it back)."""
    return (
        f"/subscriptions/{FAKE_SUBSCRIPTION}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.ContainerService/managedClusters/{name}"
    )


def fake_flux_identity(cluster: str, resource_group: str) -> dict[str, str]:
    """What the identity of `cluster`'s Flux reads back as (`components.azure_identity`)."""
    return {
        "name": f"{cluster}-flux",
        "resourceGroup": resource_group,
        "clientId": f"client-id-of-{cluster}-flux",
        "tenantId": FAKE_TENANT,
        "principalId": f"principal-id-of-{cluster}-flux",
        "issuer": f"https://oidc.example/{cluster}/",
    }


def main_stack_outputs(fleet: FleetSpec) -> dict[str, Any]:
    """What the main stack of `fleet` exports, as a StackReference reads it: each cluster that
    exists, a group's members one by one; for AKS its resource id, and for a management cluster
    with secret-less remotes its Flux's identity."""
    clusters: dict[str, Any] = {}
    for cluster in fleet.clusters:
        for member in cluster.physical:
            aks = member.provisioning
            kubeconfig = fake_kubeconfig(member.name)
            if isinstance(aks, AksConfig) and not aks.local_accounts:
                kubeconfig = reach.entra_kubeconfig(fake_entra_kubeconfig(member.name), aks.login)
            access: dict[str, Any] = outputs.cluster_access(member, kubeconfig)
            if isinstance(aks, AksConfig):
                access[outputs.AZURE_ID] = fake_aks_id(aks.resource_group, member.name)
                if any(reach.secret_less(r) for r in fleet.remotes_of(member.folder)):
                    access[outputs.OIDC_ISSUER] = fake_flux_identity(member.name, "")["issuer"]
            clusters[member.name] = access
    return {outputs.CLUSTERS: clusters, outputs.ENVIRONMENTS: list(fleet.environments)}


@dataclass(frozen=True)
class Registered:
    """One registered (or read) resource, as the engine would have seen it."""

    type: str
    name: str
    urn: str
    parent: str
    provider: str
    """The URN of the provider the resource names explicitly, or ''."""
    dependencies: frozenset[str]
    inputs: dict[str, Any]
    """Inputs with secrets unwrapped."""
    secret_inputs: frozenset[str]
    """Dotted paths of the inputs that were Pulumi secrets."""
    options: dict[str, Any] = field(default_factory=dict)
    """The resource options the engine acts on, by their protocol names."""
    aliases: tuple[str, ...] = ()
    """The URNs the resource had before, by its `aliases` option: the engine moves their state
    to it instead of replacing anything."""
    custom: bool = True
    """A custom resource (a provider's), not a component."""


@dataclass(frozen=True)
class Invoked:
    token: str
    args: dict[str, Any]


def _unwrap(value: Any, path: str, secrets: set[str]) -> Any:
    if rpc.is_rpc_secret(value):
        secrets.add(path)
        return _unwrap(rpc.unwrap_rpc_secret(value), path, secrets)
    if isinstance(value, dict):
        return {k: _unwrap(v, f"{path}.{k}" if path else k, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v, f"{path}[{i}]", secrets) for i, v in enumerate(value)]
    return value


def _option(request: Any, name: str) -> Any:
    value = getattr(request, name)
    return value if isinstance(value, bool) else list(value)


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    """Outputs of every resource type the program creates; refuses unknown invokes."""

    stack_outputs: dict[str, Any] = field(default_factory=dict)
    """What a StackReference to the main stack reads."""
    previous: dict[str, Any] = field(default_factory=dict)
    """What the stack's own last deployment exported (a StackReference to itself reads it)."""
    references: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What the last deployments of the project's other stacks exported, by stack name: a
    main stack reads its environments' when clusters leave it."""
    resources: list[Registered] = field(default_factory=list)
    invokes: list[Invoked] = field(default_factory=list)
    on_resource: Callable[[int], None] | None = None
    """Told the number of resources registered so far: a progress display."""
    _urns: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, resource: Registered) -> None:
        """Callbacks run on several threads: the duplicate check holds a lock."""
        with self._lock:
            if resource.urn in self._urns:
                raise AssertionError(f"duplicate URN {resource.urn}")
            self._urns.add(resource.urn)
            self.resources.append(resource)
            if self.on_resource is not None:
                self.on_resource(len(self.resources))

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        # Inputs keep their secret wrappers, so outputs made from them stay secret.
        state = dict(args.inputs)
        plain = _unwrap(args.inputs, "", set())
        match args.typ:
            case clusters.RESOURCE_GROUP_TYPE:
                state["name"] = plain.get("resourceGroupName", args.name)
            case clusters.AKS_CLUSTER_TYPE:
                state["name"] = plain.get("resourceName", args.name)
                group = str(plain.get("resourceGroupName", ""))
                state["oidcIssuerProfile"] = {"issuerURL": f"https://oidc.example/{state['name']}/"}
                return fake_aks_id(group, str(state["name"])), state
            case azure_identity.IDENTITY_TYPE:
                cluster = str(plain.get("resourceName", args.name)).removesuffix("-flux")
                identity = fake_flux_identity(cluster, str(plain.get("resourceGroupName", "")))
                state.update(
                    name=identity["name"],
                    clientId=identity["clientId"],
                    tenantId=identity["tenantId"],
                    principalId=identity["principalId"],
                )
            case clusters.FLUX_OPERATOR_RELEASE_TYPE:
                state["status"] = {"name": plain["name"], "status": "deployed"}
            case github.PRIVATE_KEY_TYPE:
                state["privateKeyPem"] = f"-----BEGIN EC PRIVATE KEY-----\n{args.name}\n"
                state["publicKeyOpenssh"] = f"ecdsa-sha2-nistp256 public-{args.name}"
            case clusters.COMMAND_TYPE:
                command = str(plain.get("create", "")).split()
                is_kubeconfig = command[:3] == ["k3d", "kubeconfig", "get"]
                state["stdout"] = fake_kubeconfig(command[3]) if is_kubeconfig else ""
            case environment.STACK_REFERENCE_TYPE:
                own = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
                other = str(plain["name"]).rsplit("/", 1)[-1]
                read = self.stack_outputs
                if plain["name"] == own:
                    read = self.previous
                elif other in self.references:
                    read = self.references[other]
                state = {
                    "name": plain["name"],
                    "outputs": read,
                    "secretOutputNames": [outputs.CLUSTERS] if read is self.stack_outputs else [],
                }
        return f"{args.name}-id", state

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        self.invokes.append(Invoked(args.token, _unwrap(args.args, "", set())))
        if args.token == clusters.AKS_ADMIN_CREDENTIALS:
            kubeconfig = fake_kubeconfig(str(args.args["resourceName"]))
            value = base64.b64encode(kubeconfig.encode()).decode()
            return {"kubeconfigs": [{"name": "clusterAdmin", "value": value}]}, []
        if args.token == clusters.AKS_USER_CREDENTIALS:
            kubeconfig = fake_entra_kubeconfig(str(args.args["resourceName"]))
            value = base64.b64encode(kubeconfig.encode()).decode()
            return {"kubeconfigs": [{"name": "clusterUser", "value": value}]}, []
        if args.token == azure_identity.CLIENT_CONFIG:
            config = {"subscriptionId": FAKE_SUBSCRIPTION, "tenantId": FAKE_TENANT}
            return {**config, "clientId": "client-of-pulumi", "objectId": "object-of-pulumi"}, []
        raise AssertionError(f"unexpected invoke {args.token}")


class RecordingMonitor(MockMonitor):
    """The stock mock monitor (untyped), recording what it is asked and refusing duplicate URNs."""

    mocks: RecordingMocks

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.thread_loops: set[asyncio.AbstractEventLoop] = set()

    def _note_thread_loop(self) -> None:
        """The stock monitor gives each worker thread an event loop that nothing closes."""
        if threading.current_thread() is not threading.main_thread():
            self.thread_loops.add(asyncio.get_event_loop())

    def _record(self, request: Any, properties: Any) -> None:
        secrets: set[str] = set()
        inputs = _unwrap(rpc.deserialize_properties(properties), "", secrets)
        self.mocks.record(
            Registered(
                type=request.type,
                name=request.name,
                urn=self.make_urn(request.parent, request.type, request.name),
                parent=request.parent,
                provider=request.provider.rsplit("::", 1)[0] if request.provider else "",
                dependencies=frozenset(getattr(request, "dependencies", ())),
                inputs=inputs,
                secret_inputs=frozenset(secrets),
                options={
                    name: _option(request, name) for name in _OPTIONS if hasattr(request, name)
                },
                aliases=self._alias_urns(request),
                custom=bool(getattr(request, "custom", True)),
            )
        )

    def _alias_urns(self, request: Any) -> tuple[str, ...]:
        """An alias given as a URN, or as a spec whose missing parts are the resource's own,
        built as this monitor builds URNs (`make_urn`)."""
        found = list(getattr(request, "aliasURNs", ()))
        for alias in getattr(request, "aliases", ()):
            if alias.urn:
                found.append(alias.urn)
                continue
            spec = alias.spec
            parent = "" if spec.noParent else (spec.parentUrn or request.parent)
            found.append(
                self.make_urn(parent, spec.type or request.type, spec.name or request.name)
            )
        return tuple(found)

    def RegisterResource(self, request: Any) -> Any:
        if request.type == "pulumi:pulumi:Stack":
            return super().RegisterResource(request)  # type: ignore[no-untyped-call]
        self._record(request, request.object)
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        self._note_thread_loop()
        # The engine's part: outputs named by additional_secret_outputs come back secret.
        for key in request.additionalSecretOutputs:
            if key in response.object:
                value = rpc.deserialize_property(response.object[key])
                response.object[key] = rpc.wrap_rpc_secret(value)
        return response

    def ReadResource(self, request: Any) -> Any:
        self._record(request, request.properties)
        response = super().ReadResource(request)  # type: ignore[no-untyped-call]
        self._note_thread_loop()
        return response


@contextmanager
def stack_config(values: Mapping[str, Any], secret_keys: list[str]) -> Iterator[None]:
    """Stack config as Pulumi hands it to a program: JSON strings, secret keys named."""
    encoded = {
        f"fleet:{key}": value if isinstance(value, str) else json.dumps(value)
        for key, value in values.items()
    }
    runtime_config.set_all_config(encoded, [f"fleet:{key}" for key in secret_keys])
    try:
        yield
    finally:
        runtime_config.set_all_config({}, [])


def run(
    stack: str, mocks: RecordingMocks, program: Callable[[], Mapping[str, Any]]
) -> dict[str, Any]:
    """Run `program` as the Pulumi program of `stack`, to the end; returns its exports."""
    # Nothing of an earlier run is awaited in this one, and this run gets its own root stack.
    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()
    ROOT.set(None)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(
        mocks,
        project="fleet",
        stack=stack,
        preview=False,
        monitor=monitor,
        organization=LOCAL_ORGANIZATION,
    )
    # The engine's calls run on the loop's default executor: this run's own, retired after it.
    workers = ThreadPoolExecutor(thread_name_prefix="fleet-engine")
    asyncio.get_event_loop().set_default_executor(workers)
    try:
        exports = dict(program())
        _sync_await(wait_for_rpcs())
    except BaseException:
        _cancel_pending_registrations()
        raise
    finally:
        # The workers finish what they run (a failed run can leave one mid-registration), then
        # their event loops close, while they can close cleanly; left to the interpreter's
        # exit they fail noisily.
        workers.shutdown(wait=True)
        for loop in monitor.thread_loops:
            loop.close()
    return exports


def _cancel_pending_registrations() -> None:
    """A failed run must not leave registrations behind for the next test's monitor."""
    loop = asyncio.get_event_loop()
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def copy_project(project: Path, folder: Path) -> None:
    """The project's stack settings and its program, in `folder`: a project of its own (a
    `main:` elsewhere is resolved, so the copy runs the same program)."""
    for path in project.glob("Pulumi.*.yaml"):
        shutil.copy(path, folder / path.name)
    document = yaml.safe_load((project / "Pulumi.yaml").read_text(encoding="utf-8"))
    if isinstance(document, dict):
        document.pop("main", None)
        (folder / "Pulumi.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    shutil.copy(program_dir(project) / "__main__.py", folder / "__main__.py")


def program_of(project_dir: Path) -> Callable[[], dict[str, Any]]:
    """The project's `__main__.py` (in its `main` folder), as `pulumi up` runs it, with the
    project folder as Pulumi's root directory; returns what it exports."""

    def program() -> dict[str, Any]:
        exports: dict[str, Any] = {}
        original = pulumi.export
        pulumi.export = lambda name, value: exports.__setitem__(name, value)
        SETTINGS.root_directory = str(project_dir)
        try:
            runpy.run_path(str(program_dir(project_dir) / "__main__.py"), run_name="__main__")
        finally:
            pulumi.export = original
        return exports

    return program


# ---------------------------------------------------------------- rendering a stack


@dataclass(frozen=True)
class StackRun:
    """One run of a stack's program: what it registered and what it exported."""

    stack: str
    resources: list[Registered]
    exports: dict[str, Any]
    """Settled: Outputs resolved, secrets unwrapped."""


def run_stack(
    settings: Path,
    model: StackSpec,
    secrets: Mapping[str, str],
    stack_outputs: Mapping[str, Any],
    previous: Mapping[str, Any] | None = None,
    on_resource: Callable[[int], None] | None = None,
    references: Mapping[str, Mapping[str, Any]] | None = None,
) -> StackRun:
    """Run the project's program as `pulumi up` of the stack whose settings file is `settings`,
    with `secrets` as its secret config, `stack_outputs` as what its StackReference reads,
    `previous` as what its own last deployment exported, and `references` as what the
    project's other stacks did, by name."""
    raw = read_raw_config(settings)
    values = {key: value for key, value in raw.items() if value is not ENCRYPTED}
    mocks = RecordingMocks(
        dict(stack_outputs),
        dict(previous or {}),
        {name: dict(read) for name, read in (references or {}).items()},
        on_resource=on_resource,
    )
    with stack_config({**values, **secrets}, secret_keys=list(secrets)):
        exports = run(model.stack, mocks, program_of(settings.parent))
    settled = {name: _settled(value) for name, value in exports.items()}
    return StackRun(model.stack, mocks.resources, settled)


def _settled(value: Any) -> Any:
    """A value with every Output in it resolved."""
    resolved = _sync_await(pulumi.Output.from_input(value).future())
    if isinstance(resolved, dict):
        return {k: _settled(v) for k, v in resolved.items()}
    if isinstance(resolved, list):
        return [_settled(v) for v in resolved]
    return resolved


def render_stack(
    settings: Path, model: StackSpec, on_resource: Callable[[int], None] | None = None
) -> StackRender:
    """Everything `pulumi up` of the stack would commit, apply and register, secrets redacted.

    `settings` is the stack's settings file; its folder is the project whose program runs, under
    recording mocks, with every secret the stack names set to a redacted placeholder, so no
    credentials are needed.
    """
    secrets = {ref.key: REDACTED for ref in model.secret_keys}
    outputs = main_stack_outputs(fleet_of(model))
    stack_run = run_stack(settings, model, secrets, outputs, on_resource=on_resource)
    rendered = stack_render(model.stack, stack_run.resources)
    return replace(rendered, placement=placement(model), inventory=inventory(model))


def cluster_of_providers(resources: list[Registered]) -> dict[str, str]:
    """Each Kubernetes provider's URN with the cluster it reaches (its cluster identifier)."""
    return {
        r.urn: str(r.inputs.get("clusterIdentifier", r.name))
        for r in resources
        if r.type == kubernetes_objects.PROVIDER_TYPE
    }


def is_cluster_object(resource: Registered) -> bool:
    """A Kubernetes object applied to a cluster (not a provider, not a Helm release)."""
    return (
        resource.type.startswith(kubernetes_objects.OBJECT_TYPE_PREFIX)
        and resource.type != clusters.FLUX_OPERATOR_RELEASE_TYPE
    )


def applied_object(resource: Registered) -> K8sObject:
    """The object a Kubernetes resource applies, as its inputs say (secrets included)."""
    inputs = {k: v for k, v in resource.inputs.items() if k != "__provider"}
    return dict(_canonical(inputs))


def stack_render(stack: str, resources: list[Registered]) -> StackRender:
    """What the recorded resources commit, apply per cluster, and are."""
    cluster_of = cluster_of_providers(resources)
    branches: dict[str, dict[str, str]] = {}
    applied: dict[str, list[K8sObject]] = {}
    records = []
    for resource in resources:
        inputs = _redacted(resource.inputs, "", resource.secret_inputs)
        inputs.pop("__provider", None)  # the dynamic provider's serialized code
        cluster = cluster_of.get(resource.provider)
        records.append(
            ResourceRecord(
                resource.urn,
                resource.type,
                resource.name,
                resource.parent or None,
                cluster,
                inputs,
                list(resource.aliases),
            )
        )
        if resource.type == gitops_branch.GITOPS_BRANCH_TYPE:
            branches[str(inputs["branch"])] = tree_store.load(str(inputs["tree"]))
        elif cluster is not None and is_cluster_object(resource):
            applied.setdefault(cluster, []).append(_canonical(inputs))
    # Registration order under the engine is not stable; the render is.
    for on_cluster in applied.values():
        on_cluster.sort(key=objects.object_id)
    records.sort(key=lambda record: record.urn)
    return StackRender(stack, branches, applied, records)


_FIRST = ("apiVersion", "kind", "metadata")


def _hidden(value: Any) -> Any:
    """A secret value redacted in its own shape: a Secret's `stringData` keeps its keys, so the
    rendered object stays valid Kubernetes for schema validators."""
    if isinstance(value, dict):
        return {k: _hidden(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_hidden(v) for v in value]
    return REDACTED


def _canonical(value: Any) -> Any:
    """Keys sorted, `apiVersion`, `kind` and `metadata` first: the same object, the same bytes."""
    if isinstance(value, dict):
        keys = [k for k in _FIRST if k in value] + sorted(k for k in value if k not in _FIRST)
        return {k: _canonical(value[k]) for k in keys}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def _redacted(value: Any, path: str, secret_paths: frozenset[str]) -> Any:
    if path in secret_paths:
        return _hidden(value)
    if isinstance(value, dict):
        return {
            k: _redacted(v, f"{path}.{k}" if path else k, secret_paths) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redacted(v, f"{path}[{i}]", secret_paths) for i, v in enumerate(value)]
    return value
