#!/usr/bin/env bash
# Starts the cluster simulator and the exporter against it; Ctrl-C stops both.
set -euo pipefail
bin_dir=${1:-target/debug}
work=$(mktemp -d)
sim_pid="" exp_pid=""
cleanup() {
  trap - INT TERM EXIT
  [ -n "$exp_pid" ] && kill "$exp_pid" 2>/dev/null || true
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup INT TERM EXIT

"$bin_dir/kube-sim" --nodes "${DEMO_NODES:-12}" --pods "${DEMO_PODS:-400}" --churn "${DEMO_CHURN:-2}" \
  --kubeconfig-out "$work/kubeconfig" >"$work/sim.out" &
sim_pid=$!
for _ in $(seq 100); do [ -s "$work/sim.out" ] && break; sleep 0.1; done
echo "simulator: $(head -1 "$work/sim.out")"
"$bin_dir/kube-cluster-binpacking-exporter" --kubeconfig "$work/kubeconfig" \
  --metrics-addr "${DEMO_ADDR:-127.0.0.1:9101}" \
  --resources cpu,memory,pods,nvidia.com/gpu \
  --label-group topology.kubernetes.io/zone --label-group eks.amazonaws.com/nodegroup &
exp_pid=$!
echo "exporter: metrics at http://localhost:9101/metrics, page at http://localhost:9101/ (Ctrl-C stops both)"
wait -n "$sim_pid" "$exp_pid"
