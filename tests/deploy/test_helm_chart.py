"""The Helm chart (helm/livegrid), rendered offline by helm-python-sdk.

helm-python-sdk binds Helm's own Go engine (``libhelm_c``, shipped in the wheel):
``Chart.render`` is ``helm template``, including the values.schema.json check,
``Chart.validate_schema`` is that check alone, and ``lint`` is ``helm lint``.
No helm binary, cluster or network is involved. Every rendered manifest is
then validated against Kubernetes' own OpenAPI schemas by kubernetes-validate.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from livegrid.workspace_file import default_template_path, loads_workspace

CHART_DIR = Path(__file__).resolve().parents[2] / "helm" / "livegrid"
RELEASE = "lg"
NAMESPACE = "dash"

#: A production-like install: external Redis over TLS with a password Secret,
#: three replicas and workers, an ingress with TLS and cookie affinity,
#: autoscaling, ServiceMonitors, a Kafka topic mapping, the workspace template
#: loaded on install.
PRODUCTION: dict[str, Any] = {
    "image": {"repository": "registry.example.org/livegrid", "tag": "1.2.3"},
    "secretKey": {"existingSecret": "livegrid-bokeh", "existingSecretKey": "key"},
    "redis": {"enabled": False},
    "externalRedis": {
        "host": "redis.data.svc",
        "port": 6380,
        "db": 2,
        "tls": True,
        "existingSecret": "livegrid-redis",
        "existingSecretPasswordKey": "password",
    },
    "app": {"replicas": 3, "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 12}},
    "worker": {
        "replicas": 3,
        "extraEnv": [{"name": "LIVEGRID_KAFKA_BOOTSTRAP", "value": "kafka:9092"}],
        "envFrom": [{"secretRef": {"name": "kafka-credentials"}}],
    },
    "ingress": {
        "enabled": True,
        "hosts": ["dash.example.org"],
        "tls": [{"secretName": "dash-tls", "hosts": ["dash.example.org"]}],
        "affinity": {"enabled": True},
    },
    "livegrid": {"allowWebsocketOrigin": ["dash.example.org", "ops.example.org:8443"]},
    "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}},
    "kafka": {"mapping": "detector_panel_0: {topic: det0_events}\n"},
    "workspace": {"load": {"enabled": True}},
}

#: Custom resources have no schema in kubernetes-validate: they are checked
#: by hand below, never skipped silently.
CRD_API_GROUPS = {"monitoring.coreos.com"}


@dataclass(frozen=True)
class Rendered:
    """The parsed manifests of one render, plus NOTES.txt as text."""

    manifests: list[dict[str, Any]]
    notes: str

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.manifests if m["kind"] == kind]

    def one(self, kind: str, component: str | None = None) -> dict[str, Any]:
        found = [m for m in self.all(kind) if component in (None, _component(m))]
        assert len(found) == 1, f"{len(found)} {kind} manifests for component {component}"
        return found[0]


def _component(manifest: dict[str, Any]) -> str:
    return str(manifest["metadata"]["labels"]["app.kubernetes.io/component"])


@pytest.fixture(scope="module")
def chart() -> Iterator[helm.Chart]:
    with helm.Chart.load(CHART_DIR) as loaded:
        yield loaded


def render(chart: helm.Chart, values: dict[str, Any] | None = None) -> Rendered:
    files = chart.render(values or {}, name=RELEASE, namespace=NAMESPACE)
    manifests: list[dict[str, Any]] = []
    for path, text in sorted(files.items()):
        if not path.endswith("NOTES.txt"):
            manifests.extend(doc for doc in yaml.safe_load_all(text) if doc)
    notes = next(text for path, text in files.items() if path.endswith("NOTES.txt"))
    return Rendered(manifests, notes)


def with_values(**overrides: Any) -> dict[str, Any]:
    """PRODUCTION with top-level sections replaced."""
    values = copy.deepcopy(PRODUCTION)
    values.update(overrides)
    return values


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def only_container(workload: dict[str, Any]) -> dict[str, Any]:
    (container,) = pod_spec(workload)["containers"]
    return dict(container)


def env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def env_order(container: dict[str, Any]) -> list[str]:
    return [e["name"] for e in container.get("env", [])]


def kube_versions() -> list[str]:
    """The oldest Kubernetes the chart supports (Chart.yaml) and the newest with schemas."""
    constraint = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())["kubeVersion"]
    match = re.search(r"(\d+\.\d+)", constraint)
    assert match, constraint
    return [match.group(1), kubernetes_validate.latest_version()]


#: Each sign-in mode, on top of the production install; secrets by reference only.
AUTH_MODES: dict[str, dict[str, Any]] = {
    "basic": {
        "mode": "basic",
        "cookieSecret": {"existingSecret": "livegrid-auth"},
        "basic": {"existingSecret": "livegrid-passwords", "existingSecretKey": "passwords"},
    },
    "proxy": {
        "mode": "proxy",
        "cookieSecret": {"existingSecret": "livegrid-auth"},
        "roleMap": {"livegrid-operators": "operator", "livegrid-admins": "admin"},
        "proxy": {"trustedProxies": ["10.42.0.0/16"]},
    },
    "oidc": {
        "mode": "oidc",
        "cookieSecret": {"existingSecret": "livegrid-auth"},
        "roleMap": {"livegrid-operators": "operator"},
        "oidc": {
            "issuer": "https://sso.example.org/realms/facility",
            "clientId": "livegrid",
            "clientSecret": {"existingSecret": "livegrid-oidc"},
            "redirectUri": "https://dash.example.org/login",
            "encryptionKey": {"existingSecret": "livegrid-oidc"},
        },
    },
}

VALUE_SETS = {"default": {}, "production": PRODUCTION} | {
    f"auth-{mode}": with_values(auth=auth) for mode, auth in AUTH_MODES.items()
}


# ---- the chart as a whole ----


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_chart_lints_without_warnings(values: dict[str, Any]) -> None:
    report = helm.lint(CHART_DIR, values, strict=True, namespace=NAMESPACE)
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert problems == [] and report["errors"] == []


@pytest.mark.parametrize("version", kube_versions())
@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_every_manifest_is_valid_kubernetes(
    chart: helm.Chart, values: dict[str, Any], version: str
) -> None:
    rendered = render(chart, values)
    for manifest in rendered.manifests:
        group = manifest["apiVersion"].split("/")[0]
        if group in CRD_API_GROUPS:
            # A CRD: kubernetes-validate ships no schema (see the ServiceMonitor test).
            continue
        kubernetes_validate.validate(manifest, version, strict=True)


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_every_service_and_budget_selects_exactly_its_components_pods(
    chart: helm.Chart, values: dict[str, Any]
) -> None:
    rendered = render(chart, values)
    pods = {
        _component(w): w["spec"]["template"]["metadata"]["labels"]
        for w in rendered.all("Deployment") + rendered.all("StatefulSet")
    }
    selectors = [(s, s["spec"]["selector"]) for s in rendered.all("Service")]
    selectors += [
        (p, p["spec"]["selector"]["matchLabels"]) for p in rendered.all("PodDisruptionBudget")
    ]
    assert selectors
    for owner, selector in selectors:
        matched = [c for c, labels in pods.items() if selector.items() <= labels.items()]
        assert matched == [_component(owner)], owner["metadata"]["name"]


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_every_secret_reference_names_a_secret_the_values_provide(
    chart: helm.Chart, values: dict[str, Any]
) -> None:
    rendered = render(chart, values)
    generated = {s["metadata"]["name"]: set(s["data"]) for s in rendered.all("Secret")}
    existing = {
        "livegrid-bokeh": {"key"},
        "livegrid-redis": {"password"},
        "livegrid-auth": {"cookie-secret"},
        "livegrid-oidc": {"client-secret", "encryption-key"},
    }
    for workload in rendered.all("Deployment") + rendered.all("StatefulSet") + rendered.all("Job"):
        for entry in only_container(workload).get("env", []):
            ref = entry.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                keys = generated.get(ref["name"]) or existing.get(ref["name"], set())
                assert ref["key"] in keys, (workload["metadata"]["name"], ref)


def test_every_resource_is_labelled_with_release_and_component(chart: helm.Chart) -> None:
    for manifest in render(chart, PRODUCTION).manifests:
        labels = manifest["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/component"]


# ---- defaults: in-chart Redis, generated secrets ----


def test_default_install_runs_redis_with_append_only_file_on_a_volume(chart: helm.Chart) -> None:
    redis = render(chart).one("StatefulSet", "redis")
    args = only_container(redis)["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    assert args[args.index("--dir") + 1] == "/data"
    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"
    (claim,) = redis["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in only_container(redis)["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == "/data"


def test_upgrading_livegrid_does_not_restart_redis(chart: helm.Chart) -> None:
    before = render(chart).one("StatefulSet", "redis")["spec"]["template"]
    after = render(chart, {"image": {"tag": "9.9.9"}}).one("StatefulSet", "redis")["spec"]
    assert after["template"] == before
    assert "app.kubernetes.io/version" not in before["metadata"]["labels"]
    assert "helm.sh/chart" not in before["metadata"]["labels"]


def test_an_unchanged_upgrade_restarts_no_pod(chart: helm.Chart) -> None:
    """Generated secrets are random, but no pod template embeds them."""
    first, second = render(chart, PRODUCTION), render(chart, PRODUCTION)
    for kind in ("Deployment", "StatefulSet"):
        assert first.all(kind) == second.all(kind)
    first, second = render(chart), render(chart)
    assert first.all("Secret") != second.all("Secret")
    for kind in ("Deployment", "StatefulSet"):
        assert first.all(kind) == second.all(kind)


def test_redis_without_persistence_keeps_its_data_in_an_empty_dir(chart: helm.Chart) -> None:
    redis = render(chart, {"redis": {"persistence": {"enabled": False}}}).one("StatefulSet")
    assert "volumeClaimTemplates" not in redis["spec"]
    volumes = {v["name"]: v for v in pod_spec(redis)["volumes"]}
    assert "emptyDir" in volumes["data"]


def test_default_redis_url_takes_its_password_from_the_generated_secret(chart: helm.Chart) -> None:
    rendered = render(chart)
    (redis_service,) = [
        s["metadata"]["name"]
        for s in rendered.all("Service")
        if _component(s) == "redis" and s["spec"].get("clusterIP") != "None"
    ]
    for component in ("app", "worker"):
        container = only_container(rendered.one("Deployment", component))
        variables = env(container)
        order = env_order(container)
        assert order.index("REDIS_PASSWORD") < order.index("LIVEGRID_REDIS_URL")
        assert "secretKeyRef" in variables["REDIS_PASSWORD"]["valueFrom"]
        assert variables["LIVEGRID_REDIS_URL"]["value"] == (
            f"redis://:$(REDIS_PASSWORD)@{redis_service}:6379/0"
        )
    redis = only_container(rendered.one("StatefulSet", "redis"))
    assert "$(REDIS_PASSWORD)" in redis["args"]
    assert (
        env(redis)["REDIS_PASSWORD"]["valueFrom"] == env(container)["REDIS_PASSWORD"]["valueFrom"]
    )


def test_replicas_read_the_secret_key_from_a_secret_never_from_values(chart: helm.Chart) -> None:
    rendered = render(chart)
    app = only_container(rendered.one("Deployment", "app"))
    ref = env(app)["LIVEGRID_SECRET_KEY"]["valueFrom"]["secretKeyRef"]
    secret = rendered.one("Secret")
    assert ref["name"] == secret["metadata"]["name"]
    key = base64.b64decode(secret["data"][ref["key"]]).decode()
    assert len(key) >= 32
    assert "LIVEGRID_SECRET_KEY" not in env(only_container(rendered.one("Deployment", "worker")))


def test_existing_secrets_replace_the_generated_one(chart: helm.Chart) -> None:
    rendered = render(
        chart,
        {
            "secretKey": {"existingSecret": "bokeh", "existingSecretKey": "k"},
            "redis": {"auth": {"existingSecret": "redis-auth"}},
        },
    )
    assert rendered.all("Secret") == []
    app = env(only_container(rendered.one("Deployment", "app")))
    assert app["LIVEGRID_SECRET_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "bokeh", "key": "k"}
    assert app["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "redis-auth"


def test_redis_without_auth_has_a_plain_url_and_a_warning(chart: helm.Chart) -> None:
    rendered = render(chart, {"redis": {"auth": {"enabled": False}}})
    app = env(only_container(rendered.one("Deployment", "app")))
    assert "REDIS_PASSWORD" not in app
    assert app["LIVEGRID_REDIS_URL"]["value"].startswith("redis://lg-livegrid-redis:")
    assert "--requirepass" not in only_container(rendered.one("StatefulSet"))["args"]
    assert "WARNING: the in-chart Redis has no password" in rendered.notes


def test_settings_reach_both_roles_as_livegrid_variables(chart: helm.Chart) -> None:
    values = {"livegrid": {"namespace": "beamline-1", "leaseTtlMs": 8000, "staleAfterS": 20.5}}
    rendered = render(chart, values)
    for component in ("app", "worker"):
        variables = env(only_container(rendered.one("Deployment", component)))
        assert variables["LIVEGRID_NAMESPACE"]["value"] == "beamline-1"
        assert variables["LIVEGRID_LEASE_TTL_MS"]["value"] == "8000"
        assert variables["LIVEGRID_STALE_AFTER_S"]["value"] == "20.5"
        assert variables["LIVEGRID_LOG_FORMAT"]["value"] == "json"


# ---- replicas ----


def test_replica_probes_use_healthz_for_liveness_and_readyz_for_readiness(
    chart: helm.Chart,
) -> None:
    app = only_container(render(chart).one("Deployment", "app"))
    assert app["args"] == ["app", "--port", "5006", "--address", "0.0.0.0"]
    assert app["ports"] == [{"name": "http", "containerPort": 5006, "protocol": "TCP"}]
    assert app["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert app["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert app["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}


def test_replica_drains_before_it_exits(chart: helm.Chart) -> None:
    app = render(chart, {"app": {"drainSeconds": 15, "terminationGracePeriodSeconds": 45}})
    deployment = app.one("Deployment", "app")
    assert only_container(deployment)["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "15"]
    assert pod_spec(deployment)["terminationGracePeriodSeconds"] == 45


def test_a_drain_as_long_as_the_grace_period_is_refused(chart: helm.Chart) -> None:
    with pytest.raises(helm.HelmRenderError, match=re.escape("must exceed app.drainSeconds")):
        chart.render({"app": {"drainSeconds": 30, "terminationGracePeriodSeconds": 30}})


def test_replica_count_follows_values_without_autoscaling(chart: helm.Chart) -> None:
    rendered = render(chart, {"app": {"replicas": 3}})
    assert rendered.one("Deployment", "app")["spec"]["replicas"] == 3
    assert rendered.all("HorizontalPodAutoscaler") == []


def test_without_ingress_replicas_allow_only_their_own_origin(chart: helm.Chart) -> None:
    app = only_container(render(chart).one("Deployment", "app"))
    assert "LIVEGRID_ALLOW_WEBSOCKET_ORIGIN" not in env(app)


# ---- workers ----


def test_worker_serves_healthz_on_its_metrics_port_and_has_time_to_hand_over(
    chart: helm.Chart,
) -> None:
    rendered = render(chart, {"worker": {"replicas": 4, "terminationGracePeriodSeconds": 20}})
    deployment = rendered.one("Deployment", "worker")
    worker = only_container(deployment)
    assert deployment["spec"]["replicas"] == 4
    assert worker["args"] == ["worker", "--metrics-port", "9100"]
    assert worker["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert {"name": "metrics", "containerPort": 9100, "protocol": "TCP"} in worker["ports"]
    assert pod_spec(deployment)["terminationGracePeriodSeconds"] == 20


def test_both_roles_run_the_same_image_as_the_images_non_root_user(chart: helm.Chart) -> None:
    rendered = render(chart, {"image": {"digest": "sha256:" + "a" * 64}})
    images = {only_container(d)["image"] for d in rendered.all("Deployment")}
    assert images == {"livegrid@sha256:" + "a" * 64}
    for deployment in rendered.all("Deployment"):
        security = pod_spec(deployment)["securityContext"]
        assert security["runAsNonRoot"] is True
        assert security["runAsUser"] == 10001
        assert only_container(deployment)["securityContext"]["readOnlyRootFilesystem"] is True


# ---- production values ----


def test_external_redis_replaces_the_in_chart_statefulset(chart: helm.Chart) -> None:
    rendered = render(chart, PRODUCTION)
    assert rendered.all("StatefulSet") == []
    assert [s for s in rendered.all("Service") if _component(s) == "redis"] == []
    for component in ("app", "worker"):
        variables = env(only_container(rendered.one("Deployment", component)))
        assert variables["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "livegrid-redis",
            "key": "password",
        }
        assert variables["LIVEGRID_REDIS_URL"]["value"] == (
            "rediss://:$(REDIS_PASSWORD)@redis.data.svc:6380/2"
        )


def test_external_redis_url_can_come_whole_from_a_secret(chart: helm.Chart) -> None:
    external = {"existingSecret": "redis-conn", "existingSecretUrlKey": "url"}
    rendered = render(chart, with_values(externalRedis=external))
    variables = env(only_container(rendered.one("Deployment", "worker")))
    assert "REDIS_PASSWORD" not in variables
    assert variables["LIVEGRID_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "redis-conn",
        "key": "url",
    }


def test_external_redis_without_an_address_is_refused_with_a_sentence(chart: helm.Chart) -> None:
    with pytest.raises(helm.HelmRenderError, match=re.escape("set externalRedis.host")):
        chart.render({"redis": {"enabled": False}})


def test_autoscaling_hands_the_replica_count_to_an_hpa(chart: helm.Chart) -> None:
    rendered = render(chart, PRODUCTION)
    deployment = rendered.one("Deployment", "app")
    hpa = rendered.one("HorizontalPodAutoscaler")
    assert "replicas" not in deployment["spec"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)
    assert rendered.one("Deployment", "worker")["spec"]["replicas"] == 3


def test_ingress_keeps_websockets_open_and_offers_cookie_affinity(chart: helm.Chart) -> None:
    rendered = render(chart, PRODUCTION)
    ingress = rendered.one("Ingress")
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"
    assert annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"] == "3600"
    assert annotations["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "dash.example.org"
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend == {
        "name": rendered.one("Service", "app")["metadata"]["name"],
        "port": {"name": "http"},
    }


def test_ingress_affinity_is_optional(chart: helm.Chart) -> None:
    ingress = with_values(ingress={**PRODUCTION["ingress"], "affinity": {"enabled": False}})
    annotations = render(chart, ingress).one("Ingress")["metadata"]["annotations"]
    assert "nginx.ingress.kubernetes.io/affinity" not in annotations


def test_ingress_hosts_become_allowed_websocket_origins(chart: helm.Chart) -> None:
    app = only_container(render(chart, PRODUCTION).one("Deployment", "app"))
    origins = yaml.safe_load(env(app)["LIVEGRID_ALLOW_WEBSOCKET_ORIGIN"]["value"])
    assert origins == ["dash.example.org", "ops.example.org:8443"]


def test_service_monitors_scrape_replicas_and_workers_on_their_metrics_ports(
    chart: helm.Chart,
) -> None:
    rendered = render(chart, PRODUCTION)
    monitors = {_component(m): m for m in rendered.all("ServiceMonitor")}
    assert set(monitors) == {"app", "worker"}
    for component, monitor in monitors.items():
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert monitor["metadata"]["labels"]["release"] == "prometheus"
        service = rendered.one("Service", component)
        assert monitor["spec"]["selector"]["matchLabels"].items() <= (
            service["metadata"]["labels"].items()
        )
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["path"] == "/metrics"
        assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert render(chart).all("ServiceMonitor") == []


def test_kafka_mapping_is_mounted_into_workers_with_its_path_in_env(chart: helm.Chart) -> None:
    rendered = render(chart, PRODUCTION)
    config_map = rendered.one("ConfigMap", "worker")
    assert yaml.safe_load(config_map["data"]["mapping.yaml"]) == {
        "detector_panel_0": {"topic": "det0_events"}
    }
    worker_deployment = rendered.one("Deployment", "worker")
    worker = only_container(worker_deployment)
    volumes = {v["name"]: v for v in pod_spec(worker_deployment)["volumes"]}
    (mount,) = [m for m in worker["volumeMounts"] if m["mountPath"] == "/config/kafka"]
    assert volumes[mount["name"]]["configMap"]["name"] == config_map["metadata"]["name"]
    variables = env(worker)
    assert variables["LIVEGRID_KAFKA_MAPPING"]["value"] == "/config/kafka/mapping.yaml"
    assert variables["LIVEGRID_KAFKA_BOOTSTRAP"]["value"] == "kafka:9092"
    assert worker["envFrom"] == [{"secretRef": {"name": "kafka-credentials"}}]


# ---- the workspace template ----


def test_workspace_is_loaded_by_a_post_install_job_from_a_config_map(chart: helm.Chart) -> None:
    rendered = render(chart, PRODUCTION)
    job = rendered.one("Job", "workspace-load")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install"
    container = only_container(job)
    assert container["args"][:3] == ["workspace", "load", "/config/workspace.yaml"]
    assert "--no-jobs" not in container["args"]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/config"]
    volumes = {v["name"]: v for v in pod_spec(job)["volumes"]}
    config_map = rendered.one("ConfigMap", "workspace")
    assert volumes[mount["name"]]["configMap"]["name"] == config_map["metadata"]["name"]
    assert "LIVEGRID_REDIS_URL" in env(container)


def test_workspace_load_is_off_by_default_and_reruns_on_upgrade_only_when_asked(
    chart: helm.Chart,
) -> None:
    assert render(chart).all("Job") == []
    load = {"enabled": True, "onUpgrade": True, "startJobs": False}
    job = render(chart, {"workspace": {"load": load}}).one("Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    assert "--no-jobs" in only_container(job)["args"]


def test_default_workspace_config_map_is_livegrids_own_default_template(
    chart: helm.Chart,
) -> None:
    config_map = render(chart, PRODUCTION).one("ConfigMap", "workspace")
    text = config_map["data"]["workspace.yaml"]
    assert text.strip() == default_template_path().read_text().strip()
    assert loads_workspace(text).grids


def test_a_given_workspace_template_replaces_the_default(chart: helm.Chart) -> None:
    template = "grids:\n  - {id: empty, title: Empty, rows: 1, cols: 1, cells: []}\n"
    values = with_values(workspace={"template": template, "load": {"enabled": True}})
    text = render(chart, values).one("ConfigMap", "workspace")["data"]["workspace.yaml"]
    assert loads_workspace(text).grids[0].id == "empty"


# ---- the schema rejects bad values ----


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"app": {"replica": 3}}, "additional properties 'replica'"),
        ({"workers": {"replicas": 2}}, "additional properties 'workers'"),
        ({"app": {"replicas": -1}}, "/app/replicas"),
        ({"worker": {"replicas": -2}}, "/worker/replicas"),
        ({"livegrid": {"logFormat": "xml"}}, "/livegrid/logFormat"),
        ({"livegrid": {"leaseTtlMs": 100}}, "/livegrid/leaseTtlMs"),
        ({"redis": {"appendfsync": "sometimes"}}, "/redis/appendfsync"),
        ({"ingress": {"hosts": ["Not A Host"]}}, "/ingress/hosts/0"),
        ({"app": {"resources": {"request": {"cpu": 1}}}}, "additional properties 'request'"),
    ],
    ids=lambda v: str(v) if isinstance(v, str) else None,
)
def test_schema_rejects_bad_values(
    chart: helm.Chart, values: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(helm.HelmValuesError, match=re.escape(complaint)):
        chart.validate_schema(values)
    with pytest.raises(helm.HelmValuesError):
        chart.render(values)


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_schema_accepts_the_documented_value_sets(
    chart: helm.Chart, values: dict[str, Any]
) -> None:
    chart.validate_schema(values)


# ---- sign-in ----


def test_without_sign_in_no_auth_setting_reaches_the_replicas(chart: helm.Chart) -> None:
    app = env(only_container(render(chart).one("Deployment", "app")))
    assert not [name for name in app if name.startswith("LIVEGRID_AUTH_")]


@pytest.mark.parametrize("mode", AUTH_MODES)
def test_each_sign_in_mode_reaches_the_replicas_with_its_secrets_by_reference(
    chart: helm.Chart, mode: str
) -> None:
    rendered = render(chart, with_values(auth=AUTH_MODES[mode]))
    app = env(only_container(rendered.one("Deployment", "app")))
    assert app["LIVEGRID_AUTH_MODE"]["value"] == mode
    assert app["LIVEGRID_AUTH_COOKIE_SECRET"]["valueFrom"]["secretKeyRef"] == {
        "name": "livegrid-auth",
        "key": "cookie-secret",
    }
    worker = env(only_container(rendered.one("Deployment", "worker")))
    assert not [name for name in worker if name.startswith("LIVEGRID_AUTH_")]
    if mode == "basic":
        assert app["LIVEGRID_AUTH_PASSWORD_FILE"]["value"] == "/etc/livegrid/auth/passwords"
        spec = pod_spec(rendered.one("Deployment", "app"))
        (volume,) = [v for v in spec["volumes"] if v["name"] == "auth-passwords"]
        assert volume["secret"]["secretName"] == "livegrid-passwords"
        mounts = only_container(rendered.one("Deployment", "app"))["volumeMounts"]
        assert {"name": "auth-passwords", "mountPath": "/etc/livegrid/auth", "readOnly": True} in (
            mounts
        )
    if mode == "proxy":
        assert app["LIVEGRID_AUTH_TRUSTED_PROXIES"]["value"] == '["10.42.0.0/16"]'
        assert app["LIVEGRID_AUTH_USER_HEADER"]["value"] == "X-Forwarded-User"
        assert '"livegrid-admins":"admin"' in app["LIVEGRID_AUTH_ROLE_MAP"]["value"]
    if mode == "oidc":
        assert app["LIVEGRID_AUTH_OIDC_ISSUER"]["value"].startswith("https://sso.example.org")
        assert app["LIVEGRID_AUTH_OIDC_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"] == {
            "name": "livegrid-oidc",
            "key": "client-secret",
        }
        assert "LIVEGRID_AUTH_OIDC_ENCRYPTION_KEY" in app
    for entry in app.values():
        if "SECRET" in entry["name"] or entry["name"].endswith("_KEY"):
            assert "value" not in entry, entry  # never a secret in the manifest


@pytest.mark.parametrize(
    ("auth", "sentence"),
    [
        ({"mode": "basic", "basic": {"existingSecret": "p"}}, "needs auth.cookieSecret"),
        (
            {"mode": "basic", "cookieSecret": {"existingSecret": "c"}},
            "needs auth.basic.existingSecret",
        ),
        (
            {"mode": "proxy", "cookieSecret": {"existingSecret": "c"}},
            "needs auth.proxy.trustedProxies",
        ),
        (
            {"mode": "oidc", "cookieSecret": {"existingSecret": "c"}},
            "needs auth.oidc.issuer",
        ),
    ],
)
def test_a_sign_in_mode_missing_what_it_needs_is_refused_with_a_sentence(
    chart: helm.Chart, auth: dict[str, Any], sentence: str
) -> None:
    with pytest.raises(helm.HelmRenderError, match=re.escape(sentence)):
        chart.render(with_values(auth=auth), name=RELEASE, namespace=NAMESPACE)


def test_an_unknown_sign_in_mode_is_refused_by_the_schema(chart: helm.Chart) -> None:
    with pytest.raises(helm.HelmValuesError, match="/auth/mode"):
        chart.render({"auth": {"mode": "ldap"}}, name=RELEASE, namespace=NAMESPACE)
