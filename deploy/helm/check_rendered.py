"""Checks what the Helm chart promises on its rendered manifests (deploy/helm/test.sh runs it).

    python check_rendered.py default|fixed RENDERED.yaml

`default` is `helm template` with values.yaml; `fixed` adds ci/fixed-replicas-values.yaml.
"""

import sys

import yaml


def fail(message):
    sys.exit(f"check_rendered: {message}")


def check(condition, message):
    if not condition:
        fail(message)


def main():
    case, path = sys.argv[1], sys.argv[2]
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)

    def one(kind):
        items = by_kind.get(kind, [])
        check(len(items) == 1, f"{case}: {len(items)} {kind}, expected 1")
        return items[0]

    deployment = one("Deployment")
    service = one("Service")
    config = one("ConfigMap")["data"]
    pod = deployment["spec"]["template"]
    pod_labels = pod["metadata"]["labels"]
    spec = pod["spec"]
    (container,) = spec["containers"]

    def selects_pods(selector, what):
        check(selector and all(pod_labels.get(k) == v for k, v in selector.items()), f"{case}: {what} {selector} does not select the pods {pod_labels}")

    selects_pods(deployment["spec"]["selector"]["matchLabels"], "the Deployment's selector")
    selects_pods(service["spec"]["selector"], "the Service's selector")

    # Probes on the operations port, readiness on /health/ready.
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    check(ports == {"http": 8080, "ops": 9091}, f"{case}: container ports {ports}")
    check(config["TRIA_SERVER__OPS_LISTEN"] == "0.0.0.0:9091", f"{case}: the ops port is not turned on: {config}")
    check(config["TRIA_PROFILE"] == "production", f"{case}: profile {config['TRIA_PROFILE']}")
    for probe, path in [("livenessProbe", "/health/live"), ("readinessProbe", "/health/ready"), ("startupProbe", "/health/live")]:
        get = container[probe]["httpGet"]
        check(get == {"path": path, "port": "ops"}, f"{case}: {probe} is {get}, expected {path} on ops")

    # Resources, and a pod that runs as the image's user with a read-only root.
    resources = container["resources"]
    check(resources["requests"].get("cpu") and resources["requests"].get("memory") and resources["limits"].get("memory"), f"{case}: resources {resources}")
    check(spec["securityContext"]["runAsNonRoot"] is True, f"{case}: runAsNonRoot")
    check(container["securityContext"]["readOnlyRootFilesystem"] is True, f"{case}: readOnlyRootFilesystem")

    # The model ships in the image: nothing is mounted over /app/models.
    for mount in container.get("volumeMounts", []):
        check(not mount["mountPath"].rstrip("/").startswith("/app/models"), f"{case}: {mount} covers the shipped model")
    check(spec.get("initContainers") is None, f"{case}: no init container fetches anything")

    # SIGTERM comes after preStop's sleep; the grace period covers the sleep and the drain.
    sleep = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    drain = int(config["TRIA_SERVER__DRAIN_TIMEOUT_MS"]) // 1000
    grace = spec["terminationGracePeriodSeconds"]
    check(grace > sleep + drain, f"{case}: grace {grace}s does not cover preStop {sleep}s + drain {drain}s")
    rolling = deployment["spec"]["strategy"]["rollingUpdate"]
    check(rolling["maxUnavailable"] == 0, f"{case}: a rollout may drop capacity: {rolling}")

    # Settings and secrets reach the container, from objects that exist (or that the operator names).
    env_from = {next(iter(k for k in e if k.endswith("Ref"))): next(iter(e.values()))["name"] for e in container["envFrom"]}
    check(env_from["configMapRef"] == one("ConfigMap")["metadata"]["name"], f"{case}: envFrom {env_from}")
    secrets = by_kind.get("Secret", [])

    pdb = one("PodDisruptionBudget")
    selects_pods(pdb["spec"]["selector"]["matchLabels"], "the PDB's selector")

    if case == "default":
        check(len(secrets) == 1 and env_from["secretRef"] == secrets[0]["metadata"]["name"], f"{case}: envFrom {env_from}, Secrets {secrets}")
        check("TRIA_DATABASE_URL" in secrets[0]["stringData"], f"{case}: no database URL in the Secret")
        check("checksum/secret" in pod["metadata"]["annotations"], f"{case}: a secret change would not roll the pods")
        # The HPA owns the replica count: a `replicas` in the Deployment would fight it on every upgrade.
        check("replicas" not in deployment["spec"], f"{case}: replicas set alongside the HPA")
        hpa = one("HorizontalPodAutoscaler")
        target = hpa["spec"]["scaleTargetRef"]
        check(target["kind"] == "Deployment" and target["name"] == deployment["metadata"]["name"], f"{case}: the HPA scales {target}")
        check(hpa["spec"]["minReplicas"] >= 2 and pdb["spec"].get("minAvailable") == 1, f"{case}: HPA {hpa['spec']}, PDB {pdb['spec']}")
        check("Ingress" not in by_kind, f"{case}: an ingress without being asked")
        check(config.get("OTEL_EXPORTER_OTLP_ENDPOINT"), f"{case}: no OTLP endpoint")
    elif case == "fixed":
        check(deployment["spec"]["replicas"] == 3, f"{case}: replicas {deployment['spec'].get('replicas')}")
        check("HorizontalPodAutoscaler" not in by_kind, f"{case}: an HPA with autoscaling off")
        check(not secrets and env_from["secretRef"] == "tria-prod-secrets", f"{case}: existingSecret not used: {env_from}, Secrets {secrets}")
        check("checksum/secret" not in pod["metadata"]["annotations"], f"{case}: checksum of a Secret the chart does not render")
        check("@sha256:" in container["image"], f"{case}: image {container['image']}")
        check(pdb["spec"] == {"maxUnavailable": 1, "selector": pdb["spec"]["selector"]}, f"{case}: PDB {pdb['spec']}")
        check(config["TRIA_LIMITS__MAX_IN_FLIGHT"] == "64" and config["TRIA_SERVER__DRAIN_TIMEOUT_MS"] == "20000", f"{case}: config {config}")
        ingress = one("Ingress")
        (rule,) = ingress["spec"]["rules"]
        backend = rule["http"]["paths"][0]["backend"]["service"]
        check(backend == {"name": service["metadata"]["name"], "port": {"name": "http"}}, f"{case}: ingress backend {backend}")
        check(ingress["spec"]["tls"][0]["hosts"] == ["chat.example.com"], f"{case}: ingress TLS {ingress['spec'].get('tls')}")
    else:
        fail(f"unknown case {case}")
    print(f"check_rendered: {case}: {len(docs)} manifests as promised")


main()
