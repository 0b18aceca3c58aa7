"""deploy/k8s: every manifest valid against the Kubernetes schemas (kubernetes-validate, strict:
unknown fields are errors), and the properties operations rely on: probes on /health, drain time,
non-root with a read-only root, resources, secrets by reference, selectors that match."""

from __future__ import annotations

import kubernetes_validate
import pytest

from paywire.config import SETTING_FIELDS
from tests.deploy.paths import K8S_DIR, load_yaml, load_yaml_documents, stop_s

KUBERNETES_VERSION = "1.30.0"
MANIFESTS = sorted(path for path in K8S_DIR.glob("*.yaml") if path.name != "kustomization.yaml")


def resources() -> dict[tuple[str, str], dict]:
    return {
        (doc["kind"], doc["metadata"]["name"]): doc
        for path in MANIFESTS
        for doc in load_yaml_documents(path)
    }


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_valid_against_the_kubernetes_schema(path) -> None:
    for doc in load_yaml_documents(path):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_kinds_and_kustomization() -> None:
    assert set(resources()) == {
        ("ConfigMap", "paywire-config"),
        ("Deployment", "paywire"),
        ("Service", "paywire"),
        ("PodDisruptionBudget", "paywire"),
        ("NetworkPolicy", "paywire"),
        ("Deployment", "paywire-receiver"),
        ("Service", "paywire-receiver"),
    }
    kustomization = load_yaml(K8S_DIR / "kustomization.yaml")
    for name in kustomization["resources"]:
        assert (K8S_DIR / name).is_file()
    assert "receiver.yaml" not in kustomization["resources"], "the receiver is for staging"


def gateway_pod() -> dict:
    return resources()[("Deployment", "paywire")]["spec"]["template"]["spec"]


def container(pod: dict, name: str) -> dict:
    (found,) = [c for c in pod["containers"] if c["name"] == name]
    return found


def test_probes_ask_health_and_liveness_asks_nothing_of_the_database() -> None:
    gateway = container(gateway_pod(), "gateway")
    paths = {"readinessProbe": "/health", "livenessProbe": "/health/live"}
    for probe, path in paths.items():
        assert gateway[probe]["httpGet"]["path"] == path
        assert gateway[probe]["httpGet"]["port"] in ("http", 3000)
    assert gateway["ports"] == [{"name": "http", "containerPort": 3000}]
    # A stuck process is restarted after a minute; a pod out of work leaves the Service sooner.
    live, ready = gateway["livenessProbe"], gateway["readinessProbe"]
    assert live["periodSeconds"] * live["failureThreshold"] >= 60
    assert ready["periodSeconds"] * ready["failureThreshold"] <= 15


def test_stopping_leaves_time_to_drain() -> None:
    pod = gateway_pod()
    gateway = container(pod, "gateway")
    sleep = gateway["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] > int(sleep[1]) + stop_s()


@pytest.mark.parametrize("name", ["paywire", "paywire-receiver"])
def test_non_root_with_a_read_only_root_and_resources(name: str) -> None:
    pod = resources()[("Deployment", name)]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the image's user (deploy/Dockerfile)
    assert pod["automountServiceAccountToken"] is False
    for each in pod["containers"] + pod.get("initContainers", []):
        security = each["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        for kind in ("requests", "limits"):
            assert set(each["resources"][kind]) == {"cpu", "memory"}, f"{each['name']} {kind}"
        mounts = {m["mountPath"] for m in each["volumeMounts"]}
        assert "/tmp" in mounts, "a writable /tmp on a read-only root"


@pytest.mark.parametrize("name", ["paywire", "paywire-receiver"])
def test_pods_get_no_service_links(name: str) -> None:
    """paywire finds what it talks to by its settings; the variables Kubernetes would add for the
    Services paywire and paywire-receiver (PAYWIRE_SERVICE_HOST, …) would be warned about as
    unknown, and one of them, PAYWIRE_RECEIVER_PORT=tcp://…, has a setting's name."""
    pod = resources()[("Deployment", name)]["spec"]["template"]["spec"]
    assert pod["enableServiceLinks"] is False


def test_the_gateway_can_write_its_logs_and_migrates_first() -> None:
    pod = gateway_pod()
    gateway = container(pod, "gateway")
    assert "/var/log/paywire" in {m["mountPath"] for m in gateway["volumeMounts"]}
    (migrate,) = pod["initContainers"]
    assert migrate["args"] == ["migrate"]
    assert migrate["image"] == gateway["image"]


def test_a_client_certificate_for_mutual_tls_can_be_mounted_without_being_required() -> None:
    """The Secret is optional (most receivers do not ask for a client certificate), and its key
    is not open to every account, which paywire would refuse (transport/tls.py)."""
    pod = gateway_pod()
    (volume,) = [v for v in pod["volumes"] if v["name"] == "client-tls"]
    assert volume["secret"]["optional"] is True
    assert volume["secret"]["defaultMode"] & 0o007 == 0
    (mount,) = [m for m in container(pod, "gateway")["volumeMounts"] if m["name"] == "client-tls"]
    assert mount["readOnly"] is True
    # Where configmap.yaml's comment points the two settings.
    comment = (K8S_DIR / "configmap.yaml").read_text()
    for name in ("tls.crt", "tls.key"):
        assert f"{mount['mountPath']}/{name}" in comment


def test_secrets_are_referenced_never_written() -> None:
    assert not [key for key in resources() if key[0] == "Secret"]
    pod = gateway_pod()

    def refs(containers: list[dict]) -> set[str]:
        return {
            source["secretRef"]["name"]
            for each in containers
            for source in each.get("envFrom", [])
            if "secretRef" in source
        }

    # The schema owner's URL only where migrations run; the gateway's login in the gateway.
    assert refs(pod["initContainers"]) == {"paywire-migrate"}
    assert refs(pod["containers"]) == {"paywire-secrets"}
    config = resources()[("ConfigMap", "paywire-config")]["data"]
    assert not {"DATABASE_URL", "REDIS_URL"} & set(config)


def test_config_map_keys_are_real_settings() -> None:
    known = {f"PAYWIRE_{field.name.upper()}" for field in SETTING_FIELDS}
    config = resources()[("ConfigMap", "paywire-config")]["data"]
    assert set(config) <= known, set(config) - known
    # The CA file the gateway is told to use is where the Secret is mounted.
    gateway = container(gateway_pod(), "gateway")
    mounts = {m["mountPath"] for m in gateway["volumeMounts"]}
    assert config["PAYWIRE_RECEIVER_CA_FILE"].rsplit("/", 1)[0] in mounts


@pytest.mark.parametrize(
    ("service", "target"),
    [
        (("Service", "paywire"), ("Deployment", "paywire")),
        (("Service", "paywire-receiver"), ("Deployment", "paywire-receiver")),
        (("PodDisruptionBudget", "paywire"), ("Deployment", "paywire")),
        (("NetworkPolicy", "paywire"), ("Deployment", "paywire")),
    ],
)
def test_selectors_match_the_pods(service, target) -> None:
    everything = resources()
    spec = everything[service]["spec"]
    selector = spec.get("selector", spec.get("podSelector"))
    selector = selector.get("matchLabels", selector)
    pod_labels = everything[target]["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    others = [
        key
        for key, doc in everything.items()
        if key[0] == "Deployment"
        and key != target
        and selector.items() <= doc["spec"]["template"]["metadata"]["labels"].items()
    ]
    assert others == [], f"{service} also selects {others}"


def test_replicas_survive_a_disruption() -> None:
    everything = resources()
    replicas = everything[("Deployment", "paywire")]["spec"]["replicas"]
    budget = everything[("PodDisruptionBudget", "paywire")]["spec"]["minAvailable"]
    assert 1 <= budget < replicas


def test_the_gateway_talks_only_to_what_it_needs() -> None:
    """In: the admin port from the ingress and monitoring namespaces. Out: the database, the
    receiver and DNS; nothing else leaves the pod."""
    policy = resources()[("NetworkPolicy", "paywire")]["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    (ingress,) = policy["ingress"]
    assert [p["port"] for p in ingress["ports"]] == ["http"]
    sources = [s["namespaceSelector"]["matchLabels"] for s in ingress["from"]]
    assert sources == [{"paywire.io/ingress": "true"}, {"paywire.io/monitoring": "true"}]
    egress = sorted(p["port"] for rule in policy["egress"] for p in rule["ports"])
    assert egress == [53, 53, 5432, 7000]
    # Each port to named destinations only: a rule without `to` lets the pod out to every
    # address on it (DNS to any server on the internet, a tunnel out).
    destinations = {rule["ports"][0]["port"]: rule.get("to") for rule in policy["egress"]}
    assert destinations[5432] == [{"ipBlock": {"cidr": "192.0.2.10/32"}}]
    assert destinations[7000] == [{"ipBlock": {"cidr": "192.0.2.20/32"}}]
    assert destinations[53] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ]
