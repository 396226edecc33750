{{/* Names and labels shared by every object of the release. */}}

{{/* <release>-demo-orchestrator, or the release name when it already says so. */}}
{{- define "orchestrator.name" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "orchestrator.labels" -}}
app.kubernetes.io/name: demo-orchestrator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "orchestrator.selector" -}}
app.kubernetes.io/name: demo-orchestrator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "orchestrator.serviceAccount" -}}
{{ include "orchestrator.name" . }}
{{- end -}}

{{- define "orchestrator.checkRouteKind" -}}
{{- if not (has .Values.kubernetes.routeKind (list "httproute" "ingress")) -}}
{{- fail (printf "kubernetes.routeKind must be httproute or ingress, not %q" .Values.kubernetes.routeKind) -}}
{{- end -}}
{{- end -}}

{{/*
The kinds the kubernetes runtime creates in a demo namespace, by API group: the fence
(quota, limits, network policies), the demo chart's objects and its routes. The RBAC below
grants exactly these, and a test compares them with what `democtl render` prints.
*/}}
{{- define "orchestrator.demoResources" -}}
{{- include "orchestrator.checkRouteKind" . -}}
{{- $httproute := eq .Values.kubernetes.routeKind "httproute" -}}
{{- $rules := list
  (dict "group" "" "resources" (list "configmaps" "limitranges" "resourcequotas" "secrets" "services"))
  (dict "group" "apps" "resources" (list "deployments" "statefulsets"))
  (dict "group" "batch" "resources" (list "jobs"))
  (dict "group" "networking.k8s.io" "resources" (ternary (list "networkpolicies") (list "ingresses" "networkpolicies") $httproute)) -}}
{{- if $httproute -}}
{{- $rules = append $rules (dict "group" "gateway.networking.k8s.io" "resources" (list "httproutes")) -}}
{{- end -}}
{{ toJson $rules }}
{{- end -}}
