{{/* Names and labels shared by every template. */}}
{{- define "dw.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "dw.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: include "dw.selector" (list . "manager") */}}
{{- define "dw.selector" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ $root.Chart.Name }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "dw.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* Environment both roles share: where beanstalkd and MongoDB are. */}}
{{- define "dw.backendEnv" -}}
- name: BEANSTALK_HOST
  value: {{ include "dw.fullname" . }}-beanstalkd
- name: BEANSTALK_PORT
  value: {{ .Values.beanstalkd.port | quote }}
{{- if .Values.mongo.enabled }}
- name: MONGO_URL
  value: {{ printf "mongodb://%s-mongo:27017/%s" (include "dw.fullname" .) .Values.mongo.database | quote }}
{{- else if .Values.mongo.externalUrlSecret.name }}
- name: MONGO_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.mongo.externalUrlSecret.name }}
      key: {{ .Values.mongo.externalUrlSecret.key }}
{{- else }}
- name: MONGO_URL
  value: {{ required "mongo.externalUrl (or mongo.externalUrlSecret.name) is required when mongo.enabled is false" .Values.mongo.externalUrl | quote }}
{{- end }}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
{{- range $name, $value := .Values.extraEnv }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}
