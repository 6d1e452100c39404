#!/bin/sh
# The container image's entry point, with registry:2's habits:
#   - a config path (the default CMD is /etc/docker/registry/config.yml) serves that file;
#     `serve` alone, or `serve` with options, serves the default path the same way;
#   - with nothing at the default path, regate serves its embedded defaults (TLS + auth, a
#     generated CA and admin password printed once in `docker logs`), with the data in
#     /var/lib/registry as registry:2 keeps it, and certs/ and htpasswd/ beside it;
#   - a regate command (user, gc, scrub, config, nginx, htpasswd, health) or an option (-h,
#     --version …) goes to regate;
#   - anything else runs as given (`docker run IMAGE sh`).
# `docker stop` sends SIGTERM and kills 10 s later: unless the config sets http.draintimeout,
# requests in flight (a push mid-upload) get 8 s to finish. The ready file is what the image's
# HEALTHCHECK (`regate health`) reads.
set -e
ready=/tmp/regate.ready
default_config=/etc/docker/registry/config.yml

# serve CONFIG [OPTIONS…]
serve() {
  config="$1"
  shift
  if [ -f "$config" ]; then
    exec regate serve --drain-default 8s --ready-file "$ready" "$@" "$config"
  fi
  if [ "$config" != "$default_config" ]; then
    echo "regate: $config: no such file (mount your config.yml there)" >&2
    exit 2
  fi
  # The embedded defaults, with registry:2's data directory.
  case "${REGISTRY_STORAGE:-filesystem}" in
    filesystem)
      REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="${REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY:-/var/lib/registry}"
      export REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY
      ;;
  esac
  exec regate serve --drain-default 8s --ready-file "$ready" "$@"
}

case "${1:-}" in
  *.yml|*.yaml)
    serve "$@"
    ;;
  serve)
    shift
    case "${1:-}" in
      *.yml|*.yaml) serve "$@" ;;
      *) serve "$default_config" "$@" ;;
    esac
    ;;
  user|gc|scrub|config|nginx|htpasswd|health|help|-*)
    exec regate "$@"
    ;;
esac
exec "$@"
