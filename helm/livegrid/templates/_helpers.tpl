{{/*
Names, labels, and the pieces every livegrid pod shares.
*/}}

{{- define "livegrid.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "livegrid.fullname" -}}
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

{{/* "<fullname>-<suffix>", within the 63 characters of a DNS label. */}}
{{- define "livegrid.componentName" -}}
{{- $root := index . 0 }}
{{- $suffix := index . 1 }}
{{- printf "%s-%s" (include "livegrid.fullname" $root | trunc (int (sub 62 (len $suffix)))) $suffix | trimSuffix "-" }}
{{- end }}

{{- define "livegrid.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels of one component: (list $ "app"|"worker"|"redis"|...). */}}
{{- define "livegrid.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "livegrid.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "livegrid.labels" -}}
{{- $root := index . 0 -}}
helm.sh/chart: {{ include "livegrid.chart" $root }}
{{ include "livegrid.selectorLabels" . }}
app.kubernetes.io/part-of: livegrid
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
{{- end }}

{{- define "livegrid.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "livegrid.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "livegrid.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "livegrid.imagePullSecrets" -}}
{{- with .Values.image.pullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ if kindIs "string" . }}{{ . }}{{ else }}{{ .name }}{{ end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The chart-managed Secret: generated Bokeh secret key and Redis password. */}}
{{- define "livegrid.generatedSecretName" -}}
{{- include "livegrid.fullname" . }}
{{- end }}

{{- define "livegrid.generatesSecretKey" -}}
{{- if not .Values.secretKey.existingSecret }}true{{ end }}
{{- end }}

{{- define "livegrid.generatesRedisPassword" -}}
{{- if and .Values.redis.enabled .Values.redis.auth.enabled (not .Values.redis.auth.existingSecret) }}true{{ end }}
{{- end }}

{{- define "livegrid.secretKeySecretName" -}}
{{- default (include "livegrid.generatedSecretName" .) .Values.secretKey.existingSecret }}
{{- end }}

{{- define "livegrid.redisServiceName" -}}
{{- include "livegrid.componentName" (list . "redis") }}
{{- end }}

{{- define "livegrid.redisPasswordSecretName" -}}
{{- default (include "livegrid.generatedSecretName" .) .Values.redis.auth.existingSecret }}
{{- end }}

{{/*
LIVEGRID_REDIS_URL, preceded by REDIS_PASSWORD when the URL carries one:
Kubernetes expands $(REDIS_PASSWORD) from the earlier variable, so the password
lives only in a Secret. Such a password must be URL-safe (the generated one
is); otherwise put the whole URL in a Secret (externalRedis.existingSecretUrlKey).
*/}}
{{- define "livegrid.redisEnv" -}}
{{- if .Values.redis.enabled }}
{{- $host := printf "%s:%d" (include "livegrid.redisServiceName" .) (int .Values.redis.port) }}
{{- if .Values.redis.auth.enabled }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "livegrid.redisPasswordSecretName" . }}
      key: {{ .Values.redis.auth.existingSecretPasswordKey }}
- name: LIVEGRID_REDIS_URL
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s/0" $host | quote }}
{{- else }}
- name: LIVEGRID_REDIS_URL
  value: {{ printf "redis://%s/0" $host | quote }}
{{- end }}
{{- else }}
{{- $ext := .Values.externalRedis }}
{{- if $ext.existingSecretUrlKey }}
{{- if not $ext.existingSecret }}
{{- fail "externalRedis.existingSecretUrlKey needs externalRedis.existingSecret: the name of the Secret that holds the Redis URL" }}
{{- end }}
- name: LIVEGRID_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $ext.existingSecret }}
      key: {{ $ext.existingSecretUrlKey }}
{{- else }}
{{- if not $ext.host }}
{{- fail "redis.enabled is false: set externalRedis.host (or externalRedis.existingSecret with externalRedis.existingSecretUrlKey) so livegrid can find its Redis" }}
{{- end }}
{{- $scheme := ternary "rediss" "redis" $ext.tls }}
{{- $hostPort := printf "%s:%d/%d" $ext.host (int $ext.port) (int $ext.db) }}
{{- if $ext.existingSecret }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $ext.existingSecret }}
      key: {{ $ext.existingSecretPasswordKey }}
- name: LIVEGRID_REDIS_URL
  value: {{ printf "%s://:$(REDIS_PASSWORD)@%s" $scheme $hostPort | quote }}
{{- else }}
- name: LIVEGRID_REDIS_URL
  value: {{ printf "%s://%s" $scheme $hostPort | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* Environment of every livegrid container: Redis, then the shared settings. */}}
{{- define "livegrid.commonEnv" -}}
{{ include "livegrid.redisEnv" . | trim }}
- name: LIVEGRID_NAMESPACE
  value: {{ .Values.livegrid.namespace | quote }}
- name: LIVEGRID_LEASE_TTL_MS
  value: {{ .Values.livegrid.leaseTtlMs | int64 | toString | quote }}
- name: LIVEGRID_STALE_AFTER_S
  value: {{ .Values.livegrid.staleAfterS | toString | quote }}
- name: LIVEGRID_LOG_FORMAT
  value: {{ .Values.livegrid.logFormat | quote }}
- name: LIVEGRID_LOG_LEVEL
  value: {{ .Values.livegrid.logLevel | quote }}
{{- end }}

{{/* Browser origins allowed to open websockets: every ingress host plus the listed ones. */}}
{{- define "livegrid.websocketOrigins" -}}
{{- $origins := list }}
{{- if .Values.ingress.enabled }}
{{- $origins = concat $origins .Values.ingress.hosts }}
{{- end }}
{{- $origins = concat $origins .Values.livegrid.allowWebsocketOrigin | uniq }}
{{- toJson $origins }}
{{- end }}

{{- define "livegrid.kafkaConfigMapName" -}}
{{- default (include "livegrid.componentName" (list . "kafka")) .Values.kafka.existingConfigMap }}
{{- end }}

{{- define "livegrid.kafkaEnabled" -}}
{{- if or .Values.kafka.mapping .Values.kafka.existingConfigMap }}true{{ end }}
{{- end }}

{{- define "livegrid.workspaceConfigMapName" -}}
{{- default (include "livegrid.componentName" (list . "workspace")) .Values.workspace.existingConfigMap }}
{{- end }}

{{/* A probe against an HTTP path on a named port: (list path port probeValues). */}}
{{- define "livegrid.httpProbe" -}}
{{- $path := index . 0 }}
{{- $port := index . 1 }}
{{- $p := index . 2 -}}
httpGet:
  path: {{ $path }}
  port: {{ $port }}
periodSeconds: {{ $p.periodSeconds }}
failureThreshold: {{ $p.failureThreshold }}
timeoutSeconds: {{ $p.timeoutSeconds }}
{{- end }}

{{/*
The replicas' sign-in settings (LIVEGRID_AUTH_*), secrets by secretKeyRef only.
A mode missing what it needs fails the render with a sentence.
*/}}
{{- define "livegrid.authEnv" -}}
{{- $a := .Values.auth }}
{{- if ne $a.mode "none" }}
{{- if not $a.cookieSecret.existingSecret }}
{{- fail (printf "auth.mode=%s needs auth.cookieSecret.existingSecret: a Secret with the cookie secret shared by all replicas" $a.mode) }}
{{- end }}
- name: LIVEGRID_AUTH_MODE
  value: {{ $a.mode | quote }}
- name: LIVEGRID_AUTH_COOKIE_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $a.cookieSecret.existingSecret }}
      key: {{ $a.cookieSecret.existingSecretKey }}
{{- if ne $a.mode "basic" }}
- name: LIVEGRID_AUTH_ROLE_MAP
  value: {{ $a.roleMap | toJson | quote }}
- name: LIVEGRID_AUTH_DEFAULT_ROLE
  value: {{ $a.defaultRole | quote }}
{{- end }}
{{- if eq $a.mode "basic" }}
{{- if not $a.basic.existingSecret }}
{{- fail "auth.mode=basic needs auth.basic.existingSecret: a Secret with the password file" }}
{{- end }}
- name: LIVEGRID_AUTH_PASSWORD_FILE
  value: /etc/livegrid/auth/{{ $a.basic.existingSecretKey }}
{{- else if eq $a.mode "proxy" }}
{{- if not $a.proxy.trustedProxies }}
{{- fail "auth.mode=proxy needs auth.proxy.trustedProxies: the addresses of the authenticating proxy" }}
{{- end }}
- name: LIVEGRID_AUTH_TRUSTED_PROXIES
  value: {{ $a.proxy.trustedProxies | toJson | quote }}
- name: LIVEGRID_AUTH_USER_HEADER
  value: {{ $a.proxy.userHeader | quote }}
- name: LIVEGRID_AUTH_GROUPS_HEADER
  value: {{ $a.proxy.groupsHeader | quote }}
{{- else if eq $a.mode "oidc" }}
{{- $o := $a.oidc }}
{{- if or (not $o.issuer) (not $o.clientId) (not $o.redirectUri) (not $o.clientSecret.existingSecret) }}
{{- fail "auth.mode=oidc needs auth.oidc.issuer, auth.oidc.clientId, auth.oidc.redirectUri and auth.oidc.clientSecret.existingSecret" }}
{{- end }}
- name: LIVEGRID_AUTH_OIDC_ISSUER
  value: {{ $o.issuer | quote }}
- name: LIVEGRID_AUTH_OIDC_CLIENT_ID
  value: {{ $o.clientId | quote }}
- name: LIVEGRID_AUTH_OIDC_CLIENT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $o.clientSecret.existingSecret }}
      key: {{ $o.clientSecret.existingSecretKey }}
- name: LIVEGRID_AUTH_OIDC_REDIRECT_URI
  value: {{ $o.redirectUri | quote }}
- name: LIVEGRID_AUTH_OIDC_SCOPES
  value: {{ $o.scopes | quote }}
- name: LIVEGRID_AUTH_OIDC_USER_CLAIM
  value: {{ $o.userClaim | quote }}
- name: LIVEGRID_AUTH_OIDC_ROLE_CLAIM
  value: {{ $o.roleClaim | quote }}
{{- if $o.encryptionKey.existingSecret }}
- name: LIVEGRID_AUTH_OIDC_ENCRYPTION_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $o.encryptionKey.existingSecret }}
      key: {{ $o.encryptionKey.existingSecretKey }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
