"""Pod Security admission, as the API server enforces it on a Pod in a labelled namespace.

The controls of the Pod Security Standards, `baseline` and `restricted`, as the standard lists
them: https://kubernetes.io/docs/concepts/security/pod-security-standards/ (the checks of
k8s.io/pod-security-admission/policy). The namespace's
`pod-security.kubernetes.io/enforce` label picks the level; `privileged` allows everything.
Only Pods are refused: for a workload (a Deployment), the API server only warns, and its Pods
are then refused when its controller creates them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
LEVELS = ("privileged", "baseline", "restricted")

_BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
_SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
_SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
_RESTRICTED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)


def level_of(namespace: Mapping[str, Any] | None) -> str:
    """The level a namespace enforces: its label, `privileged` without one."""
    labels = ((namespace or {}).get("metadata") or {}).get("labels") or {}
    level = str(labels.get(ENFORCE_LABEL, "privileged"))
    return level if level in LEVELS else "restricted"


def violations(pod: Mapping[str, Any], level: str) -> list[str]:
    """What in the Pod the level forbids; empty when it is admitted."""
    if level == "privileged" or pod.get("kind") != "Pod":
        return []
    spec = pod.get("spec") or {}
    found = list(_baseline(spec))
    if level == "restricted":
        found += _restricted(spec)
    return found


def _containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(field) or ():
            if isinstance(container, Mapping):
                yield f"{field}[{container.get('name', '?')}]", container


def _security(item: Mapping[str, Any]) -> Mapping[str, Any]:
    context = item.get("securityContext")
    return context if isinstance(context, Mapping) else {}


def _baseline(spec: Mapping[str, Any]) -> Iterator[str]:
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            yield f"{field}=true"
    for volume in spec.get("volumes") or ():
        if isinstance(volume, Mapping) and "hostPath" in volume:
            yield f"volume {volume.get('name', '?')} is a hostPath"
    pod_context = _security(spec)
    yield from _baseline_context("the pod", pod_context)
    for sysctl in pod_context.get("sysctls") or ():
        name = str(sysctl.get("name", "")) if isinstance(sysctl, Mapping) else ""
        if name not in _SAFE_SYSCTLS:
            yield f"sysctl {name} is not safe"
    for where, container in _containers(spec):
        context = _security(container)
        if context.get("privileged"):
            yield f"{where} is privileged"
        added = set((context.get("capabilities") or {}).get("add") or ())
        if added - _BASELINE_CAPABILITIES:
            yield f"{where} adds capabilities {sorted(added - _BASELINE_CAPABILITIES)}"
        for port in container.get("ports") or ():
            if isinstance(port, Mapping) and port.get("hostPort"):
                yield f"{where} uses hostPort {port['hostPort']}"
        if context.get("procMount", "Default") != "Default":
            yield f"{where} sets procMount {context['procMount']}"
        yield from _baseline_context(where, context)


def _baseline_context(where: str, context: Mapping[str, Any]) -> Iterator[str]:
    if (context.get("windowsOptions") or {}).get("hostProcess"):
        yield f"{where} is a Windows host process"
    if (context.get("seccompProfile") or {}).get("type") == "Unconfined":
        yield f"{where} sets an Unconfined seccomp profile"
    if (context.get("appArmorProfile") or {}).get("type") == "Unconfined":
        yield f"{where} sets an Unconfined AppArmor profile"
    selinux = context.get("seLinuxOptions") or {}
    if selinux.get("type", "") not in _SELINUX_TYPES or selinux.get("user") or selinux.get("role"):
        yield f"{where} sets SELinux options"


def _restricted(spec: Mapping[str, Any]) -> Iterator[str]:
    for volume in spec.get("volumes") or ():
        if not isinstance(volume, Mapping):
            continue
        kinds = set(volume) - {"name"}
        if kinds and not kinds <= _RESTRICTED_VOLUMES:
            yield f"volume {volume.get('name', '?')} is of a type restricted forbids"
    pod_context = _security(spec)
    if pod_context.get("runAsUser") == 0:
        yield "the pod runs as user 0"
    for where, container in _containers(spec):
        context = _security(container)
        if context.get("allowPrivilegeEscalation") is not False:
            yield f"{where} does not set allowPrivilegeEscalation=false"
        if not context.get("runAsNonRoot", pod_context.get("runAsNonRoot")):
            yield f"{where} does not set runAsNonRoot=true"
        if context.get("runAsUser") == 0:
            yield f"{where} runs as user 0"
        seccomp = (context.get("seccompProfile") or pod_context.get("seccompProfile") or {}).get(
            "type"
        )
        if seccomp not in ("RuntimeDefault", "Localhost"):
            yield f"{where} sets no RuntimeDefault or Localhost seccomp profile"
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or ()):
            yield f"{where} does not drop ALL capabilities"
        if set(capabilities.get("add") or ()) - {"NET_BIND_SERVICE"}:
            yield f"{where} adds capabilities beyond NET_BIND_SERVICE"
