#!/usr/bin/env bash
# Writes deploy/kubernetes/prometheus-operator/prometheusrule.yaml, the PrometheusRule that loads the alert rules into
# a Prometheus run by the Prometheus Operator. Its spec is the groups of deploy/prometheus/alerts.yml, copied with
# their comments and indented, so that one file stays the source: run this after editing alerts.yml
# (KubernetesManifestsTest fails while the two differ).
#
#   deploy/prometheus/prometheusrule.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rules="$here/alerts.yml"
out="$here/../kubernetes/prometheus-operator/prometheusrule.yaml"
grep -q '^groups:' "$rules" || { echo "$0: $rules has no top-level groups:" >&2; exit 1; }
{
  cat <<'YAML'
# Generated from deploy/prometheus/alerts.yml by deploy/prometheus/prometheusrule.sh: edit alerts.yml, then run that.
# The alert rules for a Prometheus run by the Prometheus Operator (it needs the operator's PrometheusRule CRD). Your
# Prometheus resource must select it (its ruleSelector and ruleNamespaceSelector; many installations select on a
# `release: <name>` label: add it in an overlay). Runbook links: deploy/README.md, "Runbook links".
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: cdc-migrator
  labels:
    app.kubernetes.io/name: cdc-migrator
    app.kubernetes.io/part-of: cdc-migrator
spec:
YAML
  sed -n '/^groups:/,$p' "$rules" | sed 's/^./  &/'
} > "$out.partial"
mv "$out.partial" "$out"
