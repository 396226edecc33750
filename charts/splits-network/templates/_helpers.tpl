{{/*
Shared pieces of the demo chart. Every object carries the app.kubernetes.io/* labels and
demo-orchestrator/instance, so the orchestrator (and a person with kubectl) finds all of a demo's
objects by one label. Pods select on app.kubernetes.io/name: the orchestrator's NetworkPolicies
around the chart use the same label to let the gateway reach the services that serve routes.
*/}}

{{- define "demo.labels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Values.instance.id }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: {{ .root.Chart.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Values.managedBy | default .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
demo-orchestrator/instance: {{ .root.Values.instance.id }}
{{- end -}}

{{- define "demo.selector" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Values.instance.id }}
{{- end -}}

{{/* The public host of one route: <instance id>.<route>.<base domain>. */}}
{{- define "demo.host" -}}
{{ printf "%s.%s.%s" .root.Values.instance.id .route .root.Values.baseDomain }}
{{- end -}}

{{/* The routes every service serves, in order, once each. */}}
{{- define "demo.routes" -}}
{{- $routes := list -}}
{{- range .Values.services }}{{ range .routes }}{{ $routes = append $routes . }}{{ end }}{{ end -}}
{{ $routes | uniq | toJson }}
{{- end -}}

{{/*
Passwords are computed once per render (here), so a data service's Secret and the URL the app
gets agree. The orchestrator always passes them; random ones are for a standalone render.
*/}}
{{- define "demo.passwords" -}}
{{- $ := . -}}
{{- toJson (dict
  "postgresql" ($.Values.postgresql.password | default (randAlphaNum 32))
  "redis" ($.Values.redis.password | default (randAlphaNum 32))
  "rabbitmq" ($.Values.rabbitmq.password | default (randAlphaNum 32))
  "login" ($.Values.loginSecret | default (randAlphaNum 48))) -}}
{{- end -}}

{{- define "demo.containerSecurityContext" -}}
{{ toYaml .Values.containerSecurityContext }}
{{- end -}}

{{/* Pod-level settings every workload shares: no API token, no service-link variables. */}}
{{- define "demo.podDefaults" -}}
automountServiceAccountToken: false
enableServiceLinks: false
{{- end -}}
