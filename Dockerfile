# syntax=docker/dockerfile:1
# One image for every Tatkal process (gateway, the four subgraphs, the webhook sidecar, the migrate
# Job): compiled JavaScript and production dependencies only, no tsx, no dev tools. Its one name,
# in docker-compose.yml and every Kubernetes manifest, is tatkal-supergraph (test/docker-compose.test.ts).
#
#   docker build -t tatkal-supergraph:dev .
#   docker run --rm tatkal-supergraph:dev node subgraphs/auth/src/index.js
#
# What the runtime stage holds, its size and each process's start time: docs/operations.md,
# "The production image" (measured by building the same tree with scripts/build.mjs).

ARG PNPM_VERSION=10.34.8

# ───────────────────────────── base ─────────────────────────────
# node:22.23.2-bookworm-slim, pinned by the digest of its multi-platform index. The digest is the
# one docker-library/repo-info records for that tag's build of 2026-09-19 (repos/node/remote/
# 22-bookworm-slim.md, NODE_VERSION 22.23.2); Docker Hub itself could not be reached from the
# machine this was written on. Renovate or `docker buildx imagetools inspect node:22.23.2-bookworm-slim`
# gives the current one.
# The Node.js line CI tests (.ci/node-versions; test/node-versions.test.ts keeps them together).
ARG NODE_VERSION=22.23.2
FROM node:${NODE_VERSION}-bookworm-slim@sha256:48e4b67d85f87bd551df43704e24d252f56cc5f8e9718841aace50f19948f0f9 AS base
WORKDIR /app

# ───────────────────────────── deps ─────────────────────────────
# Only the lockfile and the manifests: this layer is rebuilt when dependencies change, not when
# source changes. Everything (dev tools too): the build stage compiles, generates and composes.
FROM base AS deps
ARG PNPM_VERSION
# npm, not corepack: corepack's signature check on the pnpm tarball can fail.
RUN npm install -g pnpm@${PNPM_VERSION} && pnpm --version
COPY pnpm-lock.yaml pnpm-workspace.yaml package.json ./
# Every workspace package's manifest (pnpm-workspace.yaml: gateway, subgraphs/*, packages/*,
# bench, apps/*). A new workspace package must be added here, or `--frozen-lockfile` fails.
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
COPY apps/web/package.json apps/web/
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
# The runtime tree in /out: every runtime .ts compiled to .js beside it (esbuild), the files the
# processes read (schemas, migrations, seed data, the supergraph), then `pnpm install --prod` of
# the runtime packages, and what no runtime package reaches removed (scripts/build.mjs says why).
RUN --mount=type=cache,id=tatkal-pnpm-store,target=/pnpm/store \
    PNPM=pnpm PNPM_STORE_DIR=/pnpm/store node scripts/build.mjs --out /out --install \
    && test ! -e /out/node_modules/.bin/tsx

# ──────────────────────────── runtime ───────────────────────────
FROM base AS runtime
ENV NODE_ENV=production
# Owned by root and read-only to the app, which owns nothing but what it must write:
#   /app/.keys             auth signing keys (the auth-keys volume mounts here; a fresh named
#                          volume copies this directory's owner)
#   /app/prisma/.migrate   schema copy scripts/prisma.mjs writes for migrate-deploy and -status
COPY --from=build /out /app
RUN mkdir -p /app/.keys /app/prisma/.migrate && chown node:node /app/.keys /app/prisma/.migrate
USER node
ENV SUPERGRAPH_PATH=/app/supergraph.graphql
# V8 flags of every service process, as scripts/nodeOptions.ts gives them (why: there).
ENV NODE_OPTIONS="--max-semi-space-size=64"
EXPOSE 4000 4001 4002 4003 4004 4005
CMD ["node", "gateway/src/index.js"]
