# syntax=docker/dockerfile:1
# One image for every Tatkal process (gateway, the four subgraphs, the migrate job).
# docker-compose.yml picks the process with `command:`; the default CMD starts the gateway.
#
#   docker build -t tatkal-supergraph .
#   docker run --rm tatkal-supergraph node_modules/.bin/tsx subgraphs/auth/src/index.ts

ARG NODE_VERSION=22.23
ARG PNPM_VERSION=10.34.8

# ───────────────────────────── base ─────────────────────────────
FROM node:${NODE_VERSION}-bookworm-slim AS base
WORKDIR /app

# ───────────────────────────── deps ─────────────────────────────
# Only the lockfile and the manifests: this layer is rebuilt when dependencies change, not when
# source changes.
FROM base AS deps
ARG PNPM_VERSION
# npm, not corepack: corepack's signature check on the pnpm tarball can fail.
RUN npm install -g pnpm@${PNPM_VERSION} && pnpm --version
COPY pnpm-lock.yaml pnpm-workspace.yaml package.json ./
# Every workspace package's manifest (pnpm-workspace.yaml: gateway, subgraphs/*, packages/*,
# bench). A new workspace package must be added here, or `--frozen-lockfile` fails.
# test/docker-compose.test.ts checks this list against the workspace.
COPY gateway/package.json gateway/
COPY subgraphs/auth/package.json subgraphs/auth/
COPY subgraphs/booking/package.json subgraphs/booking/
COPY subgraphs/search/package.json subgraphs/search/
COPY subgraphs/payment/package.json subgraphs/payment/
COPY packages/common/package.json packages/common/
COPY packages/client/package.json packages/client/
COPY packages/db/package.json packages/db/
COPY bench/package.json bench/
# NODE_ENV is not production here on purpose: tsx, prisma and @apollo/composition are root
# devDependencies the image needs at run time.
RUN --mount=type=cache,id=tatkal-pnpm-store,target=/pnpm/store \
    pnpm install --frozen-lockfile --store-dir /pnpm/store

# ───────────────────────────── build ────────────────────────────
FROM deps AS build
# .dockerignore keeps node_modules, generated code, keys and .env files out of this copy.
COPY . .
# Prisma 7 client into packages/db/src/generated (no engine download; see scripts/prisma.mjs).
RUN node scripts/prisma.mjs generate
# Compose supergraph.graphql from supergraph.yaml and the subgraph SDLs in this same source tree,
# so the gateway's schema always matches the subgraphs baked into the image.
RUN node_modules/.bin/tsx schema-checks/compose.ts && test -s supergraph.graphql
# No `pnpm prune --prod`: it would drop tsx (runs every service) and prisma (migrate job).

# ──────────────────────────── runtime ───────────────────────────
FROM base AS runtime
ENV NODE_ENV=production
COPY --from=build /app /app
# The app runs as `node` and owns nothing but what it must write:
#   /app/.keys                       auth signing keys (the auth-keys volume mounts here; a fresh
#                                    named volume copies this directory's owner)
#   /app/prisma/.migrate             schema copy scripts/prisma.mjs writes for migrate-deploy
#   /app/packages/db/src/generated   `prisma generate` in the migrate job rewrites it
RUN mkdir -p /app/.keys /app/prisma/.migrate \
    && chown -R node:node /app/.keys /app/prisma/.migrate /app/packages/db/src/generated
USER node
ENV SUPERGRAPH_PATH=/app/supergraph.graphql
# V8 flags of every service process, as scripts/nodeOptions.ts gives them (why: there).
ENV NODE_OPTIONS="--max-semi-space-size=64"
EXPOSE 4000 4001 4002 4003 4004 4005
CMD ["node_modules/.bin/tsx", "gateway/src/index.ts"]
