#!/usr/bin/env bash
# Deploys one environment: ops/k8s/deploy.sh <staging|production> <image:tag>
# Migrations first (a Job, waited for), then every role rolls (maxUnavailable 0) and is waited for.
set -euo pipefail
cd "$(dirname "$0")"
env="${1:?staging or production}"
image="${2:?image:tag}"
case "$env" in staging | production) ;; *) echo "unknown environment $env" >&2; exit 2 ;; esac
ns="liquid-abt-$env"
cluster="liquid-abt-$env"

aws eks update-kubeconfig --name "$cluster" --region "${AWS_REGION:-ap-southeast-2}" >/dev/null
kubectl get namespace "$ns" >/dev/null 2>&1 || kubectl create namespace "$ns"

rendered="$(mktemp)"
trap 'rm -f "$rendered"' EXIT
# The overlay names the image "liquid-abt"; point it at this release without editing the tree.
kubectl kustomize "overlays/$env" | sed -E "s#image: .*/liquid-abt:[A-Za-z0-9._-]+#image: ${image}#" > "$rendered"

# 1. What the migration needs: service account, config, the ExternalSecret (and network policies).
kubectl -n "$ns" apply -f "$rendered" --selector '!app.kubernetes.io/component'
kubectl -n "$ns" wait --for=condition=Ready externalsecret/liquid-abt-secrets --timeout=300s

# 2. Migrations, before any role runs the new code (a Job's template is immutable: replace the previous release's).
kubectl -n "$ns" delete job migrate --ignore-not-found --wait=true
kubectl -n "$ns" apply -f "$rendered" --selector app.kubernetes.io/component=migrate
kubectl -n "$ns" wait --for=condition=complete job/migrate --timeout=900s

# 3. Everything else, then wait for each role to finish rolling.
kubectl -n "$ns" apply -f "$rendered"
for role in tenant treasury market-price compliance workers gateway; do
  kubectl -n "$ns" rollout status "deployment/$role" --timeout=600s
done
