{{/* Names and labels shared by every template. */}}

{{- define "fairshare.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* <release>-<chart>, or the release name alone when it already contains the chart name; 63 characters at most. */}}
{{- define "fairshare.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "fairshare.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "fairshare.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fairshare.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "fairshare.labels" -}}
helm.sh/chart: {{ include "fairshare.chart" . }}
{{ include "fairshare.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: fairshare
{{- end }}

{{- define "fairshare.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "fairshare.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "fairshare.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Fail with a clear message when a Prometheus Operator resource is enabled but its API is not served.
`helm template` knows no cluster: pass --api-versions monitoring.coreos.com/v1 there.
*/}}
{{- define "fairshare.requireMonitoringAPI" -}}
{{- if not (.ctx.Capabilities.APIVersions.Has "monitoring.coreos.com/v1") }}
{{- fail (printf "%s needs the Prometheus Operator's monitoring.coreos.com/v1 API, which this cluster does not serve; install the Prometheus Operator CRDs or set %s=false (with helm template, pass --api-versions monitoring.coreos.com/v1)" .kind .value) }}
{{- end }}
{{- end }}

{{/*
A value as an environment-variable string. Helm reads every YAML number as a float64, which prints large
whole numbers in exponent form (1e+06); whole numbers are printed as integers so int settings parse.
*/}}
{{- define "fairshare.envString" -}}
{{- if and (kindIs "float64" .) (eq . (floor .)) }}{{ . | int64 }}{{ else }}{{ . }}{{ end }}
{{- end }}
