{{/*
Facts about each deployable that are not user settings: its values key, container ports (and the
environment variables that tell the service to listen there), the port its Service publishes, and
what it needs mounted. Container ports are above 1024 so the non-root user binds them without
capabilities; Services publish the standard ports.
*/}}
{{- define "hermod.components" -}}
msa:
  key: msa
  database: true
  tls: true
  # Submission only runs over TLS: msa refuses to start without a certificate.
  tlsRequired: true
  public: true
  hostnameEnv: MSA_HOSTNAME
  routingClient: true
  ports:
    - { name: submission, containerPort: 2587, servicePort: 587, env: MSA_SUBMISSION_PORT }
    - { name: submissions, containerPort: 2465, servicePort: 465, env: MSA_SUBMISSIONS_PORT }
  # With service.proxyProtocol the Service sends 587 and 465 to these listeners (PROXY header first).
  proxies:
    - { name: sub-proxy, containerPort: 2588, env: MSA_PROXY_SUBMISSION_PORT, replaces: submission }
    - { name: subs-proxy, containerPort: 2466, env: MSA_PROXY_SUBMISSIONS_PORT, replaces: submissions }
  proxyTrustedEnv: MSA_PROXY_TRUSTED_CIDRS
mx:
  key: mx
  database: true
  tls: true
  public: true
  hostnameEnv: MX_HOSTNAME
  routingClient: true
  ports:
    - { name: smtp, containerPort: 2525, servicePort: 25, env: MX_SMTP_PORT }
  # With service.proxyProtocol the Service sends port 25 to this listener, which reads a PROXY header first.
  proxies:
    - { name: smtp-proxy, containerPort: 2526, env: MX_PROXY_PORT, replaces: smtp }
  proxyTrustedEnv: MX_PROXY_TRUSTED_CIDRS
routing:
  key: routing
  database: true
  tls: false
  public: false
  ports:
    - { name: grpc, containerPort: 7001, servicePort: 7001, env: ROUTING_GRPC_PORT }
    # MTA-STS policies of our domains over plain HTTP; TLS ends at the Ingress (routing.mtaSts.ingress).
    - { name: mta-sts, containerPort: 8080, servicePort: 80, env: ROUTING_MTA_STS_PORT, web: true }
outbound-mta:
  key: outboundMta
  database: true
  tls: false
  public: false
  # EHLO name and DSN Reporting-MTA: the name the sending addresses' PTR records should show.
  hostnameEnv: OUTBOUND_HELO_NAME
  ports: []
mda:
  key: mda
  hostnameEnv: MDA_HOSTNAME
  database: true
  tls: false
  public: false
  ports: []
imap:
  key: imap
  database: true
  tls: true
  public: true
  hostnameEnv: IMAP_HOSTNAME
  ports:
    - { name: imap, containerPort: 2143, servicePort: 143, env: IMAP_PORT }
    - { name: imaps, containerPort: 2993, servicePort: 993, env: IMAPS_PORT }
    - { name: pop3, containerPort: 2110, servicePort: 110, env: POP3_PORT }
    - { name: pop3s, containerPort: 2995, servicePort: 995, env: POP3S_PORT }
    - { name: managesieve, containerPort: 4190, servicePort: 4190, env: MANAGESIEVE_PORT }
  # With service.proxyProtocol the Service sends 143 and 993 to these listeners (PROXY header first).
  proxies:
    - { name: imap-proxy, containerPort: 2144, env: IMAP_PROXY_PORT, replaces: imap }
    - { name: imaps-proxy, containerPort: 2994, env: IMAPS_PROXY_PORT, replaces: imaps }
  proxyTrustedEnv: IMAP_PROXY_TRUSTED_CIDRS
operator:
  key: operator
  database: true
  tls: false
  public: false
  ports: []
{{- end }}

{{/* The components table as a dict: name -> facts. */}}
{{- define "hermod.componentTable" -}}
{{- include "hermod.components" . | fromYaml | toJson -}}
{{- end }}

{{- define "hermod.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hermod.fullname" -}}
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

{{/* Name of one component's objects: <fullname>-<component>. Call with (dict "root" $ "component" "mx"). */}}
{{- define "hermod.componentName" -}}
{{- printf "%s-%s" (include "hermod.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hermod.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hermod.labels" -}}
helm.sh/chart: {{ include "hermod.chart" . }}
{{ include "hermod.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: hermod
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "hermod.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hermod.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one component. Call with (dict "root" $ "component" "mx"). */}}
{{- define "hermod.componentLabels" -}}
{{ include "hermod.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "hermod.componentSelectorLabels" -}}
{{ include "hermod.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Image reference of a component: its own override, else the global image; a digest wins over a tag. */}}
{{- define "hermod.image" -}}
{{- $global := .root.Values.image -}}
{{- $own := (index .root.Values .key).image | default dict -}}
{{- $repository := $own.repository | default $global.repository -}}
{{- $digest := $own.digest | default $global.digest -}}
{{- $tag := $own.tag | default $global.tag | default .root.Chart.AppVersion -}}
{{- if $digest -}}
{{- printf "%s@%s" $repository $digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (toString $tag) -}}
{{- end -}}
{{- end }}

{{/* ServiceAccount of the services (not the operator): they never call the Kubernetes API. */}}
{{- define "hermod.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hermod.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "hermod.operatorServiceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (include "hermod.componentName" (dict "root" . "component" "operator")) .Values.operator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Secret holding DATABASE_URL: the user's existing Secret, else the one this chart makes from postgresql.url. */}}
{{- define "hermod.databaseSecretName" -}}
{{- if .Values.postgresql.existingSecret }}
{{- .Values.postgresql.existingSecret }}
{{- else }}
{{- printf "%s-postgresql" (include "hermod.fullname" .) }}
{{- end }}
{{- end }}

{{/*
Milliseconds the process gets to finish work after SIGTERM: what the pod's grace period leaves after the
preStop pause, minus a safety margin so the kubelet never has to SIGKILL a process still handing back work.
*/}}
{{- define "hermod.shutdownGraceMs" -}}
{{- $c := .values -}}
{{- if $c.shutdownGraceMs }}
{{- $c.shutdownGraceMs }}
{{- else }}
{{- $left := sub (sub (int $c.terminationGracePeriodSeconds) (int $c.preStopSleepSeconds)) (int .root.Values.shutdownMarginSeconds) }}
{{- if lt $left 1 }}
{{- fail (printf "terminationGracePeriodSeconds of %s leaves no time to shut down after preStopSleepSeconds and shutdownMarginSeconds" .component) }}
{{- end }}
{{- mul $left 1000 }}
{{- end }}
{{- end }}

{{/*
"true" when the cluster serves an optional API (cert-manager, Prometheus Operator, KEDA), else empty.
Objects of such APIs are rendered only when they can be applied; NOTES.txt says what was left out.
For `helm template`, pass --api-versions <group/version/Kind>.
*/}}
{{- define "hermod.apiServed" -}}
{{- if .root.Capabilities.APIVersions.Has .api }}true{{ end }}
{{- end }}

{{- define "hermod.certManagerActive" -}}
{{- if and .Values.tls.enabled .Values.tls.certManager.enabled (include "hermod.apiServed" (dict "root" . "api" "cert-manager.io/v1/Certificate")) }}true{{ end }}
{{- end }}

{{/* What every Certificate of the chart shares: lifetime, key and issuer. */}}
{{- define "hermod.certificateCommon" -}}
duration: {{ .Values.tls.certManager.duration }}
renewBefore: {{ .Values.tls.certManager.renewBefore }}
privateKey:
  algorithm: {{ .Values.tls.certManager.privateKeyAlgorithm }}
  size: {{ .Values.tls.certManager.privateKeySize }}
  rotationPolicy: Always
issuerRef:
  {{- toYaml .Values.tls.certManager.issuerRef | nindent 2 }}
{{- end }}

{{/* The Secret (and Certificate) name of one host's certificate: <fullname>-<host with dashes>-tls (`*` as wildcard). */}}
{{- define "hermod.hostTlsSecret" -}}
{{- printf "%s-%s-tls" (include "hermod.fullname" .root) (.host | replace "*" "wildcard" | replace "." "-") | trunc 253 | trimSuffix "-" }}
{{- end }}

{{/*
The mail host names with a Certificate of their own (JSON list): tls.certManager.dnsNames when
tls.certManager.perHostname is on and cert-manager is active; msa, mx and imap mount each Secret
under TLS_SNI_DIR.
*/}}
{{- define "hermod.mailCertificateHosts" -}}
{{- $hosts := list }}
{{- if and (include "hermod.certManagerActive" .) .Values.tls.certManager.perHostname }}
{{- $hosts = .Values.tls.certManager.dnsNames | default (list .Values.mailHostname) | uniq }}
{{- end }}
{{- $hosts | toJson }}
{{- end }}

{{/*
The host names that get a Certificate of their own (JSON list): those of the enabled Ingresses
(MTA-STS, client autoconfiguration) that name no tls themselves, when cert-manager is active and
tls.certManager.ingressHosts is on.
*/}}
{{- define "hermod.ingressCertificateHosts" -}}
{{- $hosts := list }}
{{- if and (include "hermod.certManagerActive" .) .Values.tls.certManager.ingressHosts .Values.routing.enabled }}
{{- range $ingress := list .Values.routing.mtaSts.ingress .Values.routing.clientConfig.ingress }}
{{- if and $ingress.enabled (not $ingress.tls) }}
{{- $hosts = concat $hosts $ingress.hosts }}
{{- end }}
{{- end }}
{{- end }}
{{- $hosts | uniq | toJson }}
{{- end }}

{{/* An Ingress's tls: its own entries, else one per host with the Certificate the chart makes for it. */}}
{{- define "hermod.ingressTls" -}}
{{- $root := .root }}
{{- $entries := .ingress.tls | default list }}
{{- if not $entries }}
{{- $managed := include "hermod.ingressCertificateHosts" $root | fromJsonArray }}
{{- range .ingress.hosts }}
{{- if has . $managed }}
{{- $entries = append $entries (dict "hosts" (list .) "secretName" (include "hermod.hostTlsSecret" (dict "root" $root "host" .))) }}
{{- end }}
{{- end }}
{{- end }}
{{- with $entries }}
{{- toYaml . }}
{{- end }}
{{- end }}

{{- define "hermod.serviceMonitorActive" -}}
{{- if and .Values.metrics.serviceMonitor.enabled (include "hermod.apiServed" (dict "root" . "api" "monitoring.coreos.com/v1/ServiceMonitor")) }}true{{ end }}
{{- end }}

{{/* KEDA scales outbound-mta: then the Deployment leaves replicas to KEDA's HPA. */}}
{{- define "hermod.kedaActive" -}}
{{- if and .Values.outboundMta.enabled .Values.outboundMta.keda.enabled (include "hermod.apiServed" (dict "root" . "api" "keda.sh/v1alpha1/ScaledObject")) }}true{{ end }}
{{- end }}

{{/*
Environment a component needs beyond the common contract: where its peers are and component-only
switches. Call with (dict "root" $ "component" "mx").
*/}}
{{- define "hermod.componentEnv" -}}
{{- $root := .root -}}
{{- $facts := index (include "hermod.componentTable" $root | fromJson) .component -}}
{{- $values := index $root.Values $facts.key -}}
{{- if and $facts.proxies $values.service.proxyProtocol }}
{{- range $facts.proxies }}
- name: {{ .env }}
  value: {{ .containerPort | quote }}
{{- end }}
- name: {{ $facts.proxyTrustedEnv }}
  value: {{ join "," $values.service.proxyTrustedCidrs | quote }}
{{- end }}
{{- with $facts.hostnameEnv }}
- name: {{ . }}
  value: {{ $root.Values.mailHostname | quote }}
{{- end }}
{{- if $facts.routingClient }}
- name: ROUTING_GRPC_ADDRESS
  value: {{ printf "%s:7001" (include "hermod.componentName" (dict "root" $root "component" "routing")) | quote }}
{{- end }}
{{- if eq .component "routing" }}
- name: ROUTING_MX_NAMES
  value: {{ join "," (default (list $root.Values.mailHostname) $values.mxNames) | quote }}
{{- with $values.srs.existingSecret }}
- name: ROUTING_SRS_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $values.srs.existingSecretKey }}
{{- end }}
{{- end }}
{{- if eq .component "mda" }}
{{- /* Sieve redirects get SRS senders signed with routing's key, so routing reverses their bounces. */}}
{{- with $root.Values.routing.srs.existingSecret }}
- name: MDA_SRS_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $root.Values.routing.srs.existingSecretKey }}
{{- end }}
{{- end }}
{{- if eq .component "operator" }}
- name: HERMOD_MX_HOSTS
  value: {{ $root.Values.mailHostname | quote }}
{{- with $root.Values.routing.clientConfig.cnameTarget }}
- name: HERMOD_AUTOCONFIG_HOST
  value: {{ . | quote }}
{{- end }}
- name: POD_NAME
  valueFrom:
    fieldRef: { fieldPath: metadata.name }
- name: POD_NAMESPACE
  valueFrom:
    fieldRef: { fieldPath: metadata.namespace }
{{- with $root.Values.operator.watchNamespace }}
- name: WATCH_NAMESPACE
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* NATS_STREAM_REPLICAS: nats.streamReplicas, or with 0 three for a cluster URL (several servers), else one. */}}
{{- define "hermod.natsStreamReplicas" -}}
{{- $r := int .Values.nats.streamReplicas -}}
{{- if gt $r 0 -}}{{ $r }}
{{- else if and (not .Values.nats.existingSecret) (contains "," .Values.nats.url) -}}3
{{- else -}}1
{{- end -}}
{{- end }}

{{/*
An autoscaler's replica bounds: a minimum above the maximum is refused by name (the API server
would reject the HPA or ScaledObject later, with less to go on). Takes min, max, minField, maxField.
*/}}
{{- define "hermod.checkReplicaBounds" -}}
{{- if gt (int .min) (int .max) }}
{{- fail (printf "%s (%v) must not be above %s (%v)" .minField .min .maxField .max) }}
{{- end }}
{{- end }}
