#!/usr/bin/env bash
# Installs what the test suite needs and the machine lacks: Debian packages (as root, via apt-get)
# and the npm packages. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# command → Debian package providing it. Absolute paths where the tests use that exact file (a
# /usr/local/bin/docker of another version must not count as Debian's docker.io CLI).
declare -A NEEDED=(
  [skopeo]=skopeo
  [docker-registry]=docker-registry
  [curl]=curl
  [htpasswd]=apache2-utils
  [openssl]=openssl
  [pgrep]=procps
  [/usr/bin/chrt]=util-linux          # the password threads' SCHED_IDLE policy (test/auth/password-pool.test.ts)
  [/usr/sbin/dockerd]=docker.io      # test/support/dockerd.ts: a private dockerd per test file
  [/usr/bin/docker]=docker.io        # the CLI of the same version as the daemon
  [/usr/bin/containerd]=containerd   # dockerd starts it as its child; the mirror tests run their own
  [/usr/bin/ctr]=containerd          # the mirror tests fetch through a hosts.toml mirror
  [/usr/sbin/runc]=runc
  [/usr/bin/podman]=podman           # test/e2e/podman-skopeo-auth.test.ts (root, vfs, private store)
  [/bin/busybox]=busybox-static      # the content of the images built offline for docker/podman
  [/usr/bin/ceph-mon]=ceph-mon         # test/support/ceph-rgw.ts: a one-node Ceph RGW (Swift API) per test file
  [/usr/bin/ceph-osd]=ceph-osd         # its one OSD (memstore, objects in RAM)
  [/usr/bin/radosgw]=radosgw           # the Swift API itself; radosgw-admin creates the demo user
  [/usr/bin/ceph]=ceph-common          # the ceph CLI (osd new, pool checks)
  [/usr/bin/swift-proxy-server]=swift-proxy          # test/support/swift-aio.ts: a one-node OpenStack Swift per test file
  [/usr/bin/swift-account-server]=swift-account
  [/usr/bin/swift-container-server]=swift-container
  [/usr/bin/swift-object-server]=swift-object
  [/usr/bin/swift-ring-builder]=swift               # builds its rings (1 replica, one device each)
  [/usr/bin/memcached]=memcached                    # tempauth keeps its tokens in memcache
  [/usr/bin/keystone-manage]=python3-keystone       # test/support/keystone.ts: a real Keystone (sqlite, fernet) per test file
  [/usr/lib/python3/dist-packages/keystonemiddleware/__init__.py]=python3-keystonemiddleware  # authtoken for the Keystone Swift proxy
  [/usr/bin/uwsgi-core]=uwsgi-core                  # serves keystone-wsgi-public on loopback
  [/usr/lib/uwsgi/plugins/python3_plugin.so]=uwsgi-plugin-python3
  [/usr/sbin/nginx]=nginx                           # test/e2e/nginx-front.test.ts: nginx-compat/'s reference site in front of regate
  [/usr/bin/redis-server]=redis-server              # test/support/redis.ts: the blob descriptor cache's Redis
  [/usr/bin/mmdebstrap]=mmdebstrap                  # test/support/node-base-image.ts: a Node 20 base image made here (no public registry)
  [/usr/bin/docker-compose]=docker-compose          # test/e2e/container-image.test.ts: seed 001's compose file (compose v1)
  [/usr/bin/systemd-analyze]=systemd                # deploy/systemd/: the unit is verified, not run
  [/usr/sbin/haproxy]=haproxy                       # deploy/replicas/: the load balancer in front of three regates
  [/usr/bin/chromium]=chromium                      # test/e2e/web-ui.test.ts: the web page in a real browser (puppeteer-core drives it)
)
missing=()
for cmd in "${!NEEDED[@]}"; do
  pkg="${NEEDED[$cmd]}"
  if [[ "$cmd" == /* ]]; then present() { [ -e "$1" ]; }; else present() { command -v "$1" >/dev/null 2>&1; }; fi
  if ! present "$cmd" && [[ " ${missing[*]-} " != *" $pkg "* ]]; then
    missing+=("$pkg")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "need root (or sudo) to apt-get install ${missing[*]}" >&2; exit 1; }
    SUDO="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # No package may start its daemon (nginx on :80, a system dockerd, …): the tests start their own,
  # on loopback. policy-rc.d is Debian's switch for that; ours lives only for this install.
  policy_rc_d=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy_rc_d=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy_rc_d" >/dev/null
    $SUDO chmod +x "$policy_rc_d"
    trap '$SUDO rm -f "$policy_rc_d"' EXIT
  fi
  # A config file left on the machine (an /etc/swift/swift.conf of an earlier install) must not stop
  # dpkg at a question nobody can answer: keep the file that is there.
  dpkg_opts=(-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  apt_log=$(mktemp)
  if ! $SUDO dpkg --configure -a --force-confdef --force-confold >"$apt_log" 2>&1 \
     || ! $SUDO apt-get install -y -qq --no-install-recommends "${dpkg_opts[@]}" "${missing[@]}" >>"$apt_log" 2>&1; then
    tail -n 40 "$apt_log" >&2
    rm -f "$apt_log"
    exit 1
  fi
  rm -f "$apt_log"
fi

# Docker verifies a registry's certificate only for names outside 127.0.0.0/8: the certs.d test
# reaches the registry as ip6-localhost (::1). Debian's /etc/hosts usually has the line; add it if not.
if ! grep -Eq '^[[:space:]]*::1[[:space:]]+(.*[[:space:]])?ip6-localhost([[:space:]]|$)' /etc/hosts; then
  if [ -w /etc/hosts ]; then
    [ -z "$(tail -c1 /etc/hosts)" ] || echo >> /etc/hosts
    printf '::1\tip6-localhost ip6-loopback\n' >> /etc/hosts
  elif command -v sudo >/dev/null 2>&1; then
    printf '::1\tip6-localhost ip6-loopback\n' | sudo tee -a /etc/hosts >/dev/null
  else
    echo "add '::1 ip6-localhost ip6-loopback' to /etc/hosts (needs root)" >&2; exit 1
  fi
fi

# npm ci gives the locked tree; its `prepare` script compiles the TypeScript.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
