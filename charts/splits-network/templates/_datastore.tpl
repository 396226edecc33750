{{/*
What the three in-namespace data services share: a one-replica StatefulSet running as the
image's own non-root user, its data on an emptyDir (or a PersistentVolumeClaim when persistence is
enabled), and a ClusterIP Service the stack reaches by name.
Arguments: root, name, component, values (the service's values), port, mountPath, container (YAML
of the container fields beyond name/image/ports/resources/securityContext/volumeMounts),
readOnlyRoot, extraMounts, extraVolumes.
*/}}
{{- define "demo.datastore" -}}
{{- $ := .root -}}
{{- $v := .values -}}
{{- $labels := dict "root" $ "name" .name "component" .component -}}
{{- $persistent := and $v.persistence $v.persistence.enabled -}}
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ .name }}
  namespace: {{ $.Release.Namespace }}
  labels:
    {{- include "demo.labels" $labels | nindent 4 }}
spec:
  replicas: 1
  serviceName: {{ .name }}
  selector:
    matchLabels:
      {{- include "demo.selector" $labels | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "demo.labels" $labels | nindent 8 }}
    spec:
      {{- include "demo.podDefaults" $ | nindent 6 }}
      securityContext:
        runAsNonRoot: true
        runAsUser: {{ $v.uid }}
        runAsGroup: {{ $v.uid }}
        fsGroup: {{ $v.uid }}
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: {{ .name }}
          image: {{ $v.image | quote }}
          imagePullPolicy: {{ $.Values.image.pullPolicy }}
          ports:
            - name: {{ .portName }}
              containerPort: {{ .port }}
              protocol: TCP
          {{- .container | nindent 10 }}
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: {{ .readOnlyRoot }}
            capabilities: {drop: [ALL]}
          volumeMounts:
            - {name: data, mountPath: {{ .mountPath }}}
            - {name: tmp, mountPath: /tmp}
            {{- with .extraMounts }}{{ . | nindent 12 }}{{ end }}
      volumes:
        - name: tmp
          emptyDir: {sizeLimit: 64Mi}
        {{- if not $persistent }}
        - name: data
          emptyDir: {sizeLimit: 1Gi}
        {{- end }}
        {{- with .extraVolumes }}{{ . | nindent 8 }}{{ end }}
  {{- if $persistent }}
  volumeClaimTemplates:
    - metadata:
        name: data
        labels:
          {{- include "demo.labels" $labels | nindent 10 }}
      spec:
        accessModes: [ReadWriteOnce]
        {{- with $v.persistence.storageClass }}
        storageClassName: {{ . }}
        {{- end }}
        resources:
          requests: {storage: {{ $v.persistence.size }}}
  {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .name }}
  namespace: {{ $.Release.Namespace }}
  labels:
    {{- include "demo.labels" $labels | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "demo.selector" $labels | nindent 4 }}
  ports:
    - name: {{ .portName }}
      port: {{ .port }}
      targetPort: {{ .portName }}
      protocol: TCP
{{- end -}}
