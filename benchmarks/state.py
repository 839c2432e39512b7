"""What a stack would keep in its Pulumi state, estimated from what its program registered.

Nothing here runs an engine: the checkpoint is modelled on what the engine and the providers
are documented (or written) to store, and every figure is an estimate of that model:

- the engine keeps every custom resource's `inputs` and `outputs`, and a component's outputs
  (https://www.pulumi.com/docs/iac/concepts/state-and-backends/);
- pulumi-kubernetes' outputs are the live object plus a copy of the inputs under `__inputs`
  (`checkpointObject` in provider/pkg/provider/provider.go of pulumi/pulumi-kubernetes), so a
  Kubernetes object is kept three times, a Secret's live copy as base64 `data`;
- a provider resource's outputs are its inputs (two copies), as are those of the other
  providers the program uses (Azure, GitHub, TLS, Command), whose outputs echo their inputs,
  and of the fleet's branch (a dynamic resource: its tree's digest, never its files, see
  `components.gitops_branch`);
- a StackReference keeps the referenced stack's outputs;
- a secret is kept as ciphertext: base64 of the value plus nonce and tag, in a small envelope.

A kubeconfig in the mocks is a few hundred bytes; a real one (CA, client certificate) is about
3 KB, so each is counted at `KUBECONFIG_BYTES`. A credential is any secret string of at least
`CREDENTIAL_MIN` characters; how often each is kept is counted over every copy.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fleet_cli.engine import Registered

KUBECONFIG_BYTES = 3072
"""A real kubeconfig with its CA and client certificate embedded."""
CREDENTIAL_MIN = 32
"""Shorter secret strings (a flag, a name) are not credentials worth counting."""
ENVELOPE_BYTES = 100
"""Pulumi's envelope around a secret in the checkpoint (`{"4dabf18193072939515e22adb298388d":
"1b47061264138c4ac30d75fd1eb44270", "ciphertext": ...}`)."""
ENTRY_BYTES = 200
"""A resource's fixed fields besides its URN, parent, provider and dependencies."""
STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"
PROVIDER_PREFIX = "pulumi:providers:"
KUBERNETES_PREFIX = "kubernetes:"
SECRET_TYPE = "kubernetes:core/v1:Secret"


def ciphertext_bytes(plain: int) -> int:
    """A secret of `plain` bytes as the checkpoint keeps it: 12-byte nonce and 16-byte tag,
    base64, in the envelope."""
    return ENVELOPE_BYTES + 4 * math.ceil((plain + 28) / 3)


def is_kubeconfig(value: str) -> bool:
    return value.startswith("apiVersion: v1") and "kind: Config" in value


def plain_bytes(value: str) -> int:
    """What a secret string weighs in a real fleet: a kubeconfig its real size."""
    return KUBECONFIG_BYTES if is_kubeconfig(value) else len(value.encode("utf-8"))


@dataclass
class _Sizer:
    """Sizes JSON values, counting each credential found in a secret part."""

    copies: Counter[str] = field(default_factory=Counter)

    def size(self, value: Any, secret: bool, times: int = 1) -> int:
        """The JSON size of `value`; all of it is secret when `secret` is set."""
        if secret:
            self._count(value, times)
            return ciphertext_bytes(self._plain(value))
        return self._plain(value)

    def _plain(self, value: Any) -> int:
        if isinstance(value, str):
            return plain_bytes(value) + 2 if is_kubeconfig(value) else len(json.dumps(value))
        if isinstance(value, Mapping):
            inner = sum(len(json.dumps(str(k))) + 1 + self._plain(v) for k, v in value.items())
            return 2 + inner + max(0, len(value) - 1)
        if isinstance(value, list | tuple):
            return 2 + sum(self._plain(v) for v in value) + max(0, len(value) - 1)
        return len(json.dumps(value))

    def _count(self, value: Any, times: int) -> None:
        for leaf in _strings(value):
            if len(leaf) >= CREDENTIAL_MIN:
                self.copies[leaf] += times


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def _sized(value: Any, path: str, secrets: frozenset[str], sizer: _Sizer, times: int) -> int:
    """`value` at `path` of a resource's inputs, the parts named in `secrets` as ciphertext."""
    if path in secrets:
        return sizer.size(value, secret=True, times=times)
    if isinstance(value, Mapping):
        inner = 0
        for k, v in value.items():
            child = f"{path}.{k}" if path else str(k)
            inner += len(json.dumps(str(k))) + 1 + _sized(v, child, secrets, sizer, times)
        return 2 + inner + max(0, len(value) - 1)
    if isinstance(value, list):
        parts = (_sized(v, f"{path}[{i}]", secrets, sizer, times) for i, v in enumerate(value))
        return 2 + sum(parts) + max(0, len(value) - 1)
    return sizer.size(value, secret=False)


@dataclass(frozen=True)
class StateSize:
    """The estimated checkpoint of one stack."""

    bytes: int
    by_type: dict[str, int]
    """Bytes by resource type, largest first."""
    credentials: int
    """Distinct credentials kept."""
    copies: dict[str, int]
    """How many times credentials are kept: the most, the median and the least."""

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> StateSize:
        return StateSize(**data)


def state_size(resources: Iterable[Registered], stack_outputs: Mapping[str, Any]) -> StateSize:
    """The checkpoint of a stack whose program registered `resources`; a StackReference keeps
    `stack_outputs` (the main stack's, all secret as the fleet exports them)."""
    sizer = _Sizer()
    by_type: Counter[str] = Counter()
    for r in resources:
        entry = ENTRY_BYTES + len(r.urn) + len(r.parent) + len(r.provider)
        entry += sum(len(d) + 3 for d in r.dependencies)
        if r.type == STACK_REFERENCE_TYPE:
            entry += _sized(r.inputs, "", r.secret_inputs, sizer, 1)
            entry += sizer.size(dict(stack_outputs), secret=True)
        elif r.type.startswith(KUBERNETES_PREFIX):
            # The inputs and `__inputs`, then the live object (a Secret's as base64 `data`).
            entry += 2 * _sized(r.inputs, "", r.secret_inputs, sizer, 2)
            if r.type == SECRET_TYPE:
                entry += _live_secret(r, sizer)
            else:
                entry += _sized(r.inputs, "", r.secret_inputs, sizer, 1)
        elif ":" in r.type and not _is_component(r):
            entry += 2 * _sized(r.inputs, "", r.secret_inputs, sizer, 2)
        by_type[r.type] += entry
    counts = sorted(sizer.copies.values())
    return StateSize(
        bytes=sum(by_type.values()),
        by_type=dict(by_type.most_common()),
        credentials=len(counts),
        copies={
            "most": counts[-1] if counts else 0,
            "median": counts[len(counts) // 2] if counts else 0,
            "least": counts[0] if counts else 0,
        },
    )


def _live_secret(r: Registered, sizer: _Sizer) -> int:
    """A Secret as the API server returns it: `stringData` gone into base64 `data`."""
    live = {k: v for k, v in r.inputs.items() if k != "stringData"}
    data = r.inputs.get("stringData") or {}
    size = _sized(live, "", r.secret_inputs, sizer, 1)
    for value in data.values() if isinstance(data, Mapping) else ():
        text = str(value)
        sizer.size(text, secret=True)
        size += ciphertext_bytes(4 * math.ceil(plain_bytes(text) / 3))
    return size


def _is_component(r: Registered) -> bool:
    """Components keep only their registered outputs: the fleet's own types."""
    return r.type.startswith("fleet:")
