{{/* Names and labels. */}}
{{- define "tagline.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tagline.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "tagline.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tagline.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tagline.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "tagline.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "tagline.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tagline.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tagline.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "tagline.redisSecretName" -}}
{{- default (printf "%s-redis" (include "tagline.fullname" .)) .Values.redis.existingSecret -}}
{{- end -}}

{{- define "tagline.pvcName" -}}
{{- default (printf "%s-data" (include "tagline.fullname" .)) .Values.persistence.existingClaim -}}
{{- end -}}

{{/*
The chart's checks: every combination the chart refuses, with the reason. Included by the
ConfigMap (rendered on every install), so `helm template`/`helm install` fail before anything is
applied.
*/}}
{{- define "tagline.checks" -}}
{{- $v := .Values -}}
{{- $server := default dict $v.config.server -}}
{{- $store := default dict $v.config.store -}}
{{- if not (has $v.mode (list "redis" "embedded")) -}}
{{- fail (printf "mode must be redis or embedded, not %q" $v.mode) -}}
{{- end -}}
{{- if hasKey $store "redis" -}}
{{- fail "config.store.redis: leave it out; the chart sets it from redis.existingSecret or redis.url (mode: redis), or leaves it empty (mode: embedded)" -}}
{{- end -}}
{{- range $key := list "port" "opsPort" "trustProxy" -}}
{{- if hasKey $server $key -}}
{{- fail (printf "config.server.%s: leave it out; the chart sets it (%s)" $key (get (dict "port" "ports.http" "opsPort" "ports.ops" "trustProxy" "trustedProxies") $key)) -}}
{{- end -}}
{{- end -}}
{{- if eq $v.mode "embedded" -}}
{{- if and (not (kindIs "invalid" $v.replicaCount)) (gt (int $v.replicaCount) 1) -}}
{{- fail (printf "mode: embedded runs exactly one replica (its queues are in the process's memory), but replicaCount is %d; use mode: redis to scale out" (int $v.replicaCount)) -}}
{{- end -}}
{{- if $v.autoscaling.enabled -}}
{{- fail "mode: embedded runs exactly one replica: autoscaling.enabled must be false (use mode: redis to scale out)" -}}
{{- end -}}
{{- if or $v.redis.existingSecret $v.redis.url -}}
{{- fail "mode: embedded does not use Redis: leave redis.existingSecret and redis.url empty, or set mode: redis" -}}
{{- end -}}
{{- end -}}
{{- range $key := list "host" "opsHost" -}}
{{- if has (toString (get $server $key)) (list "127.0.0.1" "localhost" "::1") -}}
{{- fail (printf "config.server.%s %s: the kubelet's probes and the Service reach the pod on its own address; leave it out (0.0.0.0)" $key (toString (get $server $key))) -}}
{{- end -}}
{{- end -}}
{{- if and $v.ingress.enabled (empty $v.trustedProxies) -}}
{{- fail "ingress.enabled with empty trustedProxies: the gateway would see every visitor as the ingress's address and rate-limit the whole shop as one; list the ingress controller's pod CIDR in trustedProxies" -}}
{{- end -}}
{{- $timeout := get $server "shutdownTimeoutMs" -}}
{{- if and (hasKey $server "shutdownTimeoutMs") (not (or (kindIs "float64" $timeout) (kindIs "int64" $timeout) (kindIs "int" $timeout))) -}}
{{- fail "config.server.shutdownTimeoutMs must be a plain number of milliseconds in values (not a ${VAR} reference): the chart computes terminationGracePeriodSeconds from it" -}}
{{- end -}}
{{- if and (not (kindIs "invalid" $v.terminationGracePeriodSeconds)) (lt (int $v.terminationGracePeriodSeconds) (int (include "tagline.minGraceSeconds" .))) -}}
{{- fail (printf "terminationGracePeriodSeconds %d is below the drain deadline: ceil(config.server.shutdownTimeoutMs / 1000) + preStopSleepSeconds = %s; the kubelet would kill a draining gateway" (int $v.terminationGracePeriodSeconds) (include "tagline.minGraceSeconds" .)) -}}
{{- end -}}
{{- end -}}

{{/* ceil(shutdownTimeoutMs / 1000) + preStopSleepSeconds: the least grace a draining pod needs. */}}
{{- define "tagline.minGraceSeconds" -}}
{{- $server := default dict .Values.config.server -}}
{{- $ms := 10000 -}}
{{- if hasKey $server "shutdownTimeoutMs" -}}{{- $ms = int (get $server "shutdownTimeoutMs") -}}{{- end -}}
{{- add (div (add $ms 999) 1000) (int .Values.preStopSleepSeconds) -}}
{{- end -}}

{{- define "tagline.terminationGracePeriodSeconds" -}}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds -}}
{{- add (include "tagline.minGraceSeconds" . | int) (int .Values.terminationGraceMarginSeconds) -}}
{{- else -}}
{{- int .Values.terminationGracePeriodSeconds -}}
{{- end -}}
{{- end -}}

{{/* The gateway config as rendered into the ConfigMap: values.config plus what the chart owns. */}}
{{- define "tagline.config" -}}
{{- $config := deepCopy (default dict .Values.config) -}}
{{- $server := default dict (get $config "server") -}}
{{- $_ := set $server "port" (int .Values.ports.http) -}}
{{- $_ := set $server "opsPort" (int .Values.ports.ops) -}}
{{- $_ := set $server "trustProxy" (default list .Values.trustedProxies) -}}
{{- if not (hasKey $server "spoolFile") -}}{{- $_ := set $server "spoolFile" "/app/data/spool.jsonl" -}}{{- end -}}
{{- if not (hasKey $server "deadLetterFile") -}}{{- $_ := set $server "deadLetterFile" "/app/data/dead-letters.jsonl" -}}{{- end -}}
{{- $_ := set $config "server" $server -}}
{{- if eq .Values.mode "redis" -}}
{{- $store := default dict (get $config "store") -}}
{{- $_ := set $store "redis" "${REDIS_URL}" -}}
{{- $_ := set $config "store" $store -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{/* The environment of the gateway and of its validate init container. */}}
{{- define "tagline.envFrom" -}}
{{- if .Values.existingSecret }}
- secretRef:
    name: {{ .Values.existingSecret }}
{{- end }}
{{- if .Values.secretEnv }}
- secretRef:
    name: {{ include "tagline.fullname" . }}-env
{{- end }}
{{- with .Values.envFrom }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "tagline.env" -}}
- name: TAGLINE_CONFIG
  value: /etc/tagline/tagline.yaml
{{- if eq .Values.mode "redis" }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "tagline.redisSecretName" . }}
      key: {{ ternary .Values.redis.existingSecretKey "redis-url" (not (empty .Values.redis.existingSecret)) }}
{{- end }}
{{- with .Values.env }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "tagline.securityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
