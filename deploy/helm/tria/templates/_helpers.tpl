{{/* Names and labels shared by every manifest. */}}

{{- define "tria.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tria.selectorLabels" -}}
app.kubernetes.io/name: tria-server
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tria.labels" -}}
{{ include "tria.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "tria.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{- define "tria.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "tria.fullname" .)) -}}
{{- end -}}

{{- define "tria.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "tria.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/* Settings the chart cannot accept, checked once (deployment.yaml includes it). */}}
{{- define "tria.validate" -}}
{{- $grace := int .Values.terminationGracePeriodSeconds -}}
{{- $needed := add (int .Values.lifecycle.preStopSleepSeconds) (int .Values.lifecycle.drainTimeoutSeconds) -}}
{{- if le $grace $needed -}}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed lifecycle.preStopSleepSeconds + lifecycle.drainTimeoutSeconds (%d): the kubelet would kill requests still draining" $grace $needed) -}}
{{- end -}}
{{- if and (not .Values.secrets.existingSecret) (not (hasKey (.Values.secrets.values | default dict) "TRIA_DATABASE_URL")) -}}
{{- fail "set secrets.existingSecret, or secrets.values.TRIA_DATABASE_URL: tria-server needs its PostgreSQL" -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) -}}
{{- fail "autoscaling.minReplicas is above autoscaling.maxReplicas" -}}
{{- end -}}
{{- end -}}
