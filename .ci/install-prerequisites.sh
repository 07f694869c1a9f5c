#!/usr/bin/env bash
# Debian packages the test suites drive as real peers and clients. Idempotent: installs only what is missing.
set -euo pipefail

packages=(
  swaks            # SMTP client for end-to-end submission tests
  libnet-ssleay-perl # swaks' STARTTLS/-tls (only Recommended by swaks; we install without recommends)
  postfix          # real MTA peer (and smtp-source / smtp-sink)
  isync            # mbsync IMAP sync client
  fetchmail        # POP3 clients of the interop tests (test/e2e/pop3-clients.test.ts)
  mpop
  getmail6
  mutt             # terminal mail client driven under a pseudo-terminal (script(1), from bsdutils)
  tmux             # a real terminal for `npm start` stopped by Ctrl-C (test/integration/platform/terminal-ctrl-c.test.ts)
  dovecot-imapd    # IMAP peer for benchmarks
  dovecot-pop3d
  opendkim-tools   # opendkim-testmsg verifies our DKIM signatures
  sieve-connect    # ManageSieve client for the interop tests
  python3-sievelib # Python ManageSieve client for the interop tests
  rspamd           # spam scoring for the MX filtering gateway
  clamav-daemon    # clamd: malware scanning of the filtering gateway (tests load their own signatures)
  zip              # builds the zip attachments of the malware tests
  7zip             # 7zz: builds the 7z attachments of the archive-listing tests (rar has no free tool: built by hand)
  openssl          # self-signed certificates for tests and `npm start`
  unbound          # validating DNS resolver for the DANE tests (serves the signed test zones too)
  ldnsutils        # ldns-keygen / ldns-signzone sign the DANE test zones
  bind9            # named: RFC 2136 target of the external-dns test
  bind9-utils      # tsig-keygen, named-checkconf
  python3          # imaplib / poplib / smtplib clients
  python3-venv     # the venv parsedmarc is installed into (test/harness/dmarc-validators.ts), checking our DMARC reports
  libxml2-utils    # xmllint: our DMARC aggregate reports against RFC 7489 appendix C's schema
  golang-go        # builds nats-server, kube-apiserver, etcd, helm, external-dns from Go modules (if no Go is installed)
)

missing=()
for p in "${packages[@]}"; do
  if [ "$p" = golang-go ] && command -v go >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # Postfix must not ask questions or start a system instance: tests run their own.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts these as system services when it can; tests run private instances on their own ports.
for svc in postfix dovecot rspamd unbound named clamav-daemon clamav-freshclam; do
  command -v service >/dev/null 2>&1 && service "$svc" stop >/dev/null 2>&1 || true
done
echo "prerequisites: ok"
