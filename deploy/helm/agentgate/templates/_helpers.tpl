{{/* Names and labels shared by the templates. */}}
{{- define "agentgate.name" -}}agentgate{{- end -}}

{{- define "agentgate.fullname" -}}
{{- if contains "agentgate" .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{- else -}}{{ printf "%s-agentgate" .Release.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "agentgate.labels" -}}
app.kubernetes.io/name: agentgate
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "agentgate.selectorLabels" -}}
app.kubernetes.io/name: agentgate
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The serving certificate's Secret and the in-cluster DNS name. */}}
{{- define "agentgate.tlsSecret" -}}{{ include "agentgate.fullname" . }}-tls{{- end -}}
{{- define "agentgate.serviceDNS" -}}{{ include "agentgate.fullname" . }}.{{ .Release.Namespace }}.svc{{- end -}}

{{/* Refusals: settings the chart will not install. */}}
{{- define "agentgate.validate" -}}
{{- if and (eq .Values.store.driver "sqlite") (gt (int .Values.replicaCount) 1) -}}
{{- fail "store.driver sqlite allows one replica (replicaCount: 1); use store.driver postgres for more" -}}
{{- end -}}
{{- if and (eq .Values.store.driver "postgres") (not .Values.store.postgres.existingSecret) -}}
{{- fail "store.postgres.existingSecret must name a Secret holding the PostgreSQL DSN" -}}
{{- end -}}
{{- if and (eq .Values.store.driver "postgres") (not .Values.bootstrapToken.existingSecret) -}}
{{- fail "bootstrapToken.existingSecret is required with store.driver postgres (replicas cannot share a generated token)" -}}
{{- end -}}
{{- if and .Values.goGC (not .Values.goMemLimit) -}}
{{- fail "goGC needs goMemLimit: without a soft memory limit nothing bounds the larger heap" -}}
{{- end -}}
{{- if and (eq .Values.tls.mode "certManager") (not .Values.tls.certManager.issuerRef.name) -}}
{{- fail "tls.mode certManager needs tls.certManager.issuerRef.name" -}}
{{- end -}}
{{- end -}}

{{/* The configuration file: the user's config with what the chart sets. */}}
{{- define "agentgate.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- $server := merge (dict "listen" "0.0.0.0:8443" "tls_cert_file" "/tls/tls.crt" "tls_key_file" "/tls/tls.key") (get $cfg "server" | default dict) -}}
{{- $_ := set $server "listen" "0.0.0.0:8443" -}}
{{- $_ := set $server "tls_cert_file" "/tls/tls.crt" -}}
{{- $_ := set $server "tls_key_file" "/tls/tls.key" -}}
{{- $_ := set $server "health_listen" "0.0.0.0:8081" -}}
{{- $_ := set $cfg "server" $server -}}
{{- $_ := set $cfg "data_dir" "/data" -}}
{{- $store := dict "driver" .Values.store.driver -}}
{{- $_ := set $cfg "store" $store -}}
{{- if .Values.policies -}}
{{- $policy := get $cfg "policy" | default dict -}}
{{- $_ := set $policy "dir" "/policies" -}}
{{- $_ := set $cfg "policy" $policy -}}
{{- end -}}
{{ toYaml $cfg }}
{{- end -}}
