"""The resolved fleet: stack config validated, defaults that depend on the stack filled in.

`load_main` and `load_environment` are the only ways in; they either return a model that
every later step can trust or raise one `ConfigError` listing every problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError

from fleet import names, rules
from fleet.config import (
    STACK_KEYS,
    ClusterConfig,
    ComponentConfig,
    EnvironmentStackConfig,
    FluxConfig,
    MainStackConfig,
    RepositoryConfig,
    Schema,
    TenantConfig,
)
from fleet.errors import ConfigError, Problem


class SecretValue:
    """A secret config value whose plain text this code does not hold (encrypted, or Pulumi's)."""

    def __repr__(self) -> str:
        return "<secret>"


SECRET = SecretValue()
"""Stands for every secret value in raw config handed to the loaders."""


@dataclass(frozen=True)
class SecretRef:
    """A config key named by the config as holding a secret, and where it was named."""

    key: str
    named_at: str


@dataclass(frozen=True)
class Fleet:
    """The main stack: the shared clusters, Flux settings, common infra and the repository."""

    stack: str
    repository: RepositoryConfig
    flux: FluxConfig
    clusters: tuple[ClusterConfig, ...]
    infra: tuple[ComponentConfig, ...]
    secrets: tuple[SecretRef, ...]
    max_removals: int

    def cluster(self, name: str) -> ClusterConfig:
        return next(c for c in self.clusters if c.name == name)

    @property
    def management_clusters(self) -> tuple[ClusterConfig, ...]:
        return tuple(c for c in self.clusters if c.role == "management")

    def remotes_of(self, management: str) -> tuple[ClusterConfig, ...]:
        return tuple(c for c in self.clusters if c.managed_by == management)


@dataclass(frozen=True)
class Environment:
    """An environment stack, with the fleet it runs on."""

    stack: str
    name: str
    branch: str
    required_approvals: int
    main_stack: str
    fleet: Fleet
    clusters: tuple[ClusterConfig, ...]
    """Every cluster taking part: the listed fleet clusters, then the dedicated ones."""
    dedicated_clusters: tuple[ClusterConfig, ...]
    infra: tuple[ComponentConfig, ...]
    tenants: tuple[TenantConfig, ...]
    secrets: tuple[SecretRef, ...]
    max_removals: int

    @property
    def management_clusters(self) -> tuple[ClusterConfig, ...]:
        return tuple(c for c in self.clusters if c.role == "management")

    def remotes_of(self, management: str) -> tuple[ClusterConfig, ...]:
        return tuple(c for c in self.clusters if c.managed_by == management)


def fleet_of(model: Fleet | Environment) -> Fleet:
    """The fleet a stack runs on: the main stack's own, or an environment's."""
    return model if isinstance(model, Fleet) else model.fleet


def app_path(template: str | None, overrides: Mapping[str, str], app: str, cluster: str) -> str:
    """The path an app's Kustomization reads on `cluster`: override, template, or `./APP/C`."""
    if cluster in overrides:
        return overrides[cluster]
    if template is None:
        return names.default_app_path(app, cluster)
    return template.replace("{cluster}", cluster)


# ---------------------------------------------------------------- loading

SchemaT = TypeVar("SchemaT", bound=Schema)


def load_main(
    raw: Mapping[str, Any], stack: str, *, source: str, secrets_required: bool = False
) -> Fleet:
    """The main stack from its raw config (keys without the `fleet:` prefix)."""
    config = _parse(MainStackConfig, raw, source)
    secrets = _secret_refs_of_clusters("clusters", config.clusters)
    if config.repository.token_secret:
        secrets.append(SecretRef(config.repository.token_secret, "fleet:repository.tokenSecret"))
    problems = rules.check_main_stack(config)
    problems += _check_secrets(raw, MainStackConfig, secrets, secrets_required)
    if problems:
        raise ConfigError(problems, source)
    infra = tuple(
        c.model_copy(update={"namespace": rules.main_component_namespace(c)}) for c in config.infra
    )
    return Fleet(
        stack=stack,
        repository=config.repository,
        flux=config.flux,
        clusters=tuple(config.clusters),
        infra=infra,
        secrets=tuple(secrets),
        max_removals=config.max_removals,
    )


def load_environment(
    raw: Mapping[str, Any], stack: str, fleet: Fleet, *, source: str, secrets_required: bool = False
) -> Environment:
    """An environment stack from its raw config, on the fleet of its main stack."""
    config = _parse(EnvironmentStackConfig, raw, source)
    name = config.environment.name or stack
    branch = config.environment.branch or name
    fleet_clusters = {c.name: c for c in fleet.clusters}
    secrets = _secret_refs_of_clusters("dedicatedClusters", config.dedicated_clusters)
    if fleet.repository.token_secret:
        # The environment stack pushes branch E and gives Flux read access with the same token.
        secrets.append(
            SecretRef(
                fleet.repository.token_secret,
                f"fleet:repository.tokenSecret of the main stack '{fleet.stack}'",
            )
        )
    for index, tenant in enumerate(config.tenants):
        at = f"fleet:tenants[{index}]"
        if tenant.repository.credentials_secret:
            secrets.append(
                SecretRef(
                    tenant.repository.credentials_secret, f"{at}.repository.credentialsSecret"
                )
            )
        if tenant.image_pull_secret:
            secrets.append(SecretRef(tenant.image_pull_secret, f"{at}.imagePullSecret"))
    problems = rules.check_environment_stack(config, name, branch, fleet_clusters)
    problems += _check_secrets(raw, EnvironmentStackConfig, secrets, secrets_required)
    if problems:
        raise ConfigError(problems, source)
    listed = tuple(fleet_clusters[n] for n in config.clusters)
    infra = tuple(
        c.model_copy(update={"namespace": rules.environment_component_namespace(name, c)})
        for c in config.infra
    )
    return Environment(
        stack=stack,
        name=name,
        branch=branch,
        required_approvals=config.environment.required_approvals,
        main_stack=config.main_stack,
        fleet=fleet,
        clusters=listed + tuple(config.dedicated_clusters),
        dedicated_clusters=tuple(config.dedicated_clusters),
        infra=infra,
        tenants=tuple(config.tenants),
        secrets=tuple(secrets),
        max_removals=config.max_removals,
    )


def is_environment_stack(raw: Mapping[str, Any]) -> bool:
    """Environment stacks name their main stack; the main stack does not."""
    return "mainStack" in raw


def main_stack_name(reference: str) -> str:
    """`org/fleet/main` -> `main`: the stack whose settings file holds the fleet's clusters."""
    return reference.rstrip("/").rsplit("/", 1)[-1]


def _parse(schema: type[SchemaT], raw: Mapping[str, Any], source: str) -> SchemaT:
    known = STACK_KEYS[schema]
    try:
        return schema.model_validate({k: v for k, v in raw.items() if k in known})
    except ValidationError as error:
        problems = rules.schema_problems(error, schema)
        # A secret reference's key holds a secret; any other unknown key is a mistake.
        unknown = [k for k in raw if k not in known and not isinstance(raw[k], SecretValue)]
        problems += rules.unknown_key_problems(sorted(unknown), known)
        raise ConfigError(problems, source) from None


def _secret_refs_of_clusters(key: str, clusters: list[ClusterConfig]) -> list[SecretRef]:
    return [
        SecretRef(c.attached.kubeconfig_secret, f"fleet:{key}[{i}].attached.kubeconfigSecret")
        for i, c in enumerate(clusters)
        if c.attached is not None
    ]


def _check_secrets(
    raw: Mapping[str, Any],
    schema: type[Schema],
    secrets: list[SecretRef],
    required: bool,
) -> list[Problem]:
    """Secret keys must be set as secrets; other top-level keys must be known."""
    problems = []
    for ref in secrets:
        value = raw.get(ref.key)
        if value is None:
            if required:
                problems.append(
                    Problem(
                        f"fleet:{ref.key}",
                        f"not set (named by {ref.named_at}); run "
                        f"`pulumi config set --secret {ref.key} <value>`",
                    )
                )
        elif not isinstance(value, SecretValue):
            problems.append(
                Problem(
                    f"fleet:{ref.key}",
                    f"holds a secret in plain text; run `pulumi config set --secret {ref.key} ...`",
                )
            )
    allowed = STACK_KEYS[schema] | {ref.key for ref in secrets}
    problems += rules.unknown_key_problems(sorted(set(raw) - allowed), STACK_KEYS[schema])
    return problems
