# regate's container image: `docker build -t regate .`
#
# Used as registry:2 is: /etc/docker/registry/config.yml is served when present, the data lives in
# /var/lib/registry, REGISTRY_* variables override the config, and with no config the embedded
# defaults start (TLS + auth; the generated CA and admin password are printed once in `docker
# logs`). Unlike registry:2 it runs as the unprivileged user regate (uid 10001, gid 10001): files
# you mount for it (TLS key, htpasswd) must be readable by that uid, or run it with --user as
# their owner (docs/deployment.md).
#
# The Node base is a build argument; the default is the public Node 20 slim image.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
RUN groupadd --system --gid 10001 regate \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/registry --no-create-home --shell /usr/sbin/nologin regate \
 && mkdir -p /var/lib/registry /etc/docker/registry \
 && chown 10001:10001 /var/lib/registry \
 && chmod 0700 /var/lib/registry
WORKDIR /app
COPY --from=build /src/package.json /src/package-lock.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY deploy/container/entrypoint.sh /usr/local/bin/regate-entrypoint
COPY deploy/container/htpasswd /usr/local/bin/htpasswd
RUN chmod 0755 /app/dist/src/main.js /usr/local/bin/regate-entrypoint /usr/local/bin/htpasswd \
 && ln -s /app/dist/src/main.js /usr/local/bin/regate
# certs/ and htpasswd/ of the embedded defaults are created here, beside the data.
WORKDIR /var/lib/registry
USER 10001:10001
VOLUME ["/var/lib/registry"]
EXPOSE 5000
# regate drains on SIGTERM (http.draintimeout; 8 s unless the config says otherwise).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD ["regate", "health"]
ENTRYPOINT ["regate-entrypoint"]
CMD ["/etc/docker/registry/config.yml"]
