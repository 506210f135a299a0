//! Static checks of `deploy/`: alert rules (promtool, from Debian's `prometheus` package, which
//! `.ci/run` installs), the Alertmanager config (amtool, from `prometheus-alertmanager`), a
//! runbook per alert, the exporters the rules read, probes, service references, and the Helm
//! chart (deploy/helm/test.sh).

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
    // `check config` resolves rule_files: point the in-container path at the checkout's file.
    let tmp = tempfile::tempdir().expect("temp dir");
    let config = tmp.path().join("prometheus.yml");
    let rules = dir.join("alerts.yml");
    std::fs::write(&config, read("deploy/prometheus/prometheus.yml").replace("/etc/prometheus/alerts.yml", &rules.display().to_string()))
        .expect("write prometheus.yml");
    let config = config.display().to_string();
    for args in [vec!["check", "rules", "alerts.yml"], vec!["test", "rules", "alerts_test.yml"], vec!["check", "config", config.as_str()]] {
        let out = Command::new("promtool").args(&args).current_dir(&dir).output().expect("run promtool");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "promtool {args:?}: {text}");
    }
}

/// The words of an expression that name a series (`node_filesystem_avail_bytes`, `up`, …).
fn series_names(expr: &str) -> Vec<&str> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.contains('_') || *w == "up").collect()
}

#[test]
fn every_exporter_an_alert_reads_is_scraped_and_alerts_reach_alertmanager() {
    let prometheus = read("deploy/prometheus/prometheus.yml");
    let compose = read("deploy/docker-compose.yml");
    let exprs: Vec<String> =
        read("deploy/prometheus/alerts.yml").lines().filter_map(|l| l.trim().strip_prefix("expr: ").map(str::to_owned)).collect();
    // Which job serves each family of series, and the compose service that job scrapes.
    for (prefix, job, service) in [
        ("tria_", "tria", "tria"),
        ("node_", "node", "node-exporter"),
        ("pg_", "postgres", "postgres-exporter"),
        ("redis_", "redis", "redis-exporter"),
    ] {
        let used = exprs.iter().any(|e| series_names(e).iter().any(|w| w.starts_with(prefix)));
        assert!(used, "no alert reads {prefix}* any more: drop its exporter and job");
        assert!(
            prometheus.contains(&format!("job_name: {job}\n")),
            "prometheus.yml scrapes no `{job}` job, so alerts on {prefix}* never fire"
        );
        assert!(prometheus.contains(&format!("targets: [\"{service}:")), "the `{job}` job does not scrape the compose service {service}");
        assert!(compose.contains(&format!("\n  {service}:\n")), "compose lacks {service}");
    }
    assert!(prometheus.contains("alerting:") && prometheus.contains("targets: [\"alertmanager:9093\"]"), "Prometheus sends alerts nowhere");
    assert!(compose.contains("\n  alertmanager:\n") && compose.contains("./alertmanager:/etc/alertmanager:ro"));
}

#[test]
fn amtool_accepts_the_alertmanager_config_and_routes_by_severity() {
    if Command::new("amtool").arg("--version").output().is_err() {
        // .ci/run installs it; a developer machine without it still runs the other checks.
        eprintln!("amtool not installed (apt-get install prometheus-alertmanager); Alertmanager config checks skipped");
        return;
    }
    let config = root().join("deploy/alertmanager/alertmanager.yml");
    let out = Command::new("amtool").arg("check-config").arg(&config).output().expect("run amtool");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("SUCCESS"), "amtool check-config: {text}");
    // Every severity the rules use lands where the file's header says.
    let severities: std::collections::BTreeSet<String> = read("deploy/prometheus/alerts.yml")
        .lines()
        .filter_map(|l| l.split("severity: ").nth(1).map(|s| s.trim_end_matches([' ', '}']).to_owned()))
        .collect();
    assert_eq!(severities.iter().map(String::as_str).collect::<Vec<_>>(), ["critical", "info", "warning"]);
    for (severity, receiver) in [("critical", "slack-and-email"), ("warning", "email"), ("info", "none")] {
        let out = Command::new("amtool")
            .args(["config", "routes", "test", "--config.file"])
            .arg(&config)
            .arg(format!("severity={severity}"))
            .arg("alertname=TriaAnything")
            .output()
            .expect("run amtool");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), receiver, "severity={severity}: {}", String::from_utf8_lossy(&out.stderr));
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
    // deploy/k8s validated, then for each Helm major (4 and 3) two value sets rendered,
    // validated and checked, and two refusals.
    assert!(text.contains("helm-test: 9 passed, 0 failed"), "{text}");
}

#[test]
fn kubernetes_probes_use_the_health_endpoints_and_compose_wires_every_service() {
    let deployment = read("deploy/k8s/deployment.yaml");
    assert!(deployment.contains("livenessProbe:") && deployment.contains("path: /health/live"));
    assert!(deployment.contains("readinessProbe:") && deployment.contains("path: /health/ready"));
    // Probes use the operations port, which the config map turns on.
    assert!(deployment.contains("name: ops, containerPort: 9091") && deployment.contains("port: ops }"));
    assert!(!deployment.contains("port: http }"), "no probe left on the API port");
    // SIGTERM closes the listener: it waits for the endpoints to forget the pod.
    assert!(deployment.contains("preStop:") && deployment.contains("terminationGracePeriodSeconds: 30"));
    assert!(read("deploy/k8s/configmap.yaml").contains("TRIA_SERVER__OPS_LISTEN: 0.0.0.0:9091"));
    assert!(deployment.contains("configMapRef: { name: tria-config }") && deployment.contains("secretRef: { name: tria-secrets }"));
    assert!(read("deploy/k8s/configmap.yaml").contains("name: tria-config"));
    assert!(read("deploy/k8s/secret.yaml").contains("name: tria-secrets"));
    assert!(read("deploy/k8s/hpa.yaml").contains("name: tria-server"));
    assert!(read("deploy/k8s/pdb.yaml").contains("kind: PodDisruptionBudget"));

    let compose = read("deploy/docker-compose.yml");
    for service in [
        "tria:",
        "postgres:",
        "redis:",
        "jaeger:",
        "prometheus:",
        "grafana:",
        "mock-llm:",
        "alertmanager:",
        "mailpit:",
        "postgres-exporter:",
        "redis-exporter:",
        "node-exporter:",
    ] {
        assert!(compose.contains(&format!("\n  {service}")), "compose lacks {service}");
    }
    for mounted in [
        "./prometheus/prometheus.yml",
        "./prometheus/alerts.yml",
        "./grafana/provisioning",
        "./grafana/dashboards",
        "./alertmanager/alertmanager.yml",
    ] {
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
