# syntax=docker/dockerfile:1
#
# The Parley relay: a Node.js UDP SRTP relay (relay/), built for fly.io but runnable anywhere.
#
#   docker build -t parley-relay .
#   docker run --init -p 40000:40000/udp -p 7400:7400 -e PARLEY_ENV=development parley-relay
#
# One relay worker thread per CPU (RELAY_WORKERS), worker i on UDP port RELAY_UDP_PORT + i:
# publish one port per worker, e.g. -p 40000-40003:40000-40003/udp -e RELAY_WORKERS=4.
#
# Two stages: `build` compiles relay/src and the shared/ modules it imports with tsc (all
# dependencies, dev ones included); `runtime` holds only production dependencies and dist/, so
# neither TypeScript nor tsx nor the test tooling ships in the image.

# ---- build ------------------------------------------------------------------------------------
FROM node:22-bookworm-slim AS build
WORKDIR /app
# A C toolchain for relay/native (AES-GCM over the OpenSSL inside the node binary).
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency needs an install script to compile the relay (esbuild and
# workerd ship with scripts for other parts of the repository).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.base.json ./
COPY shared ./shared
COPY relay ./relay
RUN npx tsc -p relay/tsconfig.build.json
# Built against this image's node, the same version the runtime stage runs.
RUN node relay/native/build.mjs

# ---- runtime ----------------------------------------------------------------------------------
FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
# package.json also gives dist/ its "type": "module".
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY --from=build /app/relay/native/build/Release/parley_gcm.node ./relay/native/build/Release/parley_gcm.node
# The image's unprivileged user; the relay needs no root (its ports are above 1024).
USER node
# UDP voice (worker 0; worker i listens on 40000 + i), the internal HTTP API, and the Prometheus
# listener. Defaults; see docs/deploying-relays.md.
EXPOSE 40000/udp 7400/tcp 9091/tcp
# Exec form: node receives SIGTERM itself and drains. Outside fly.io (which runs its own init),
# use `docker run --init` so signals reach node and zombies are reaped. The node options are
# relay/src/node-flags.ts's (why each is there).
CMD ["node", "--enable-source-maps", "--max-semi-space-size=8", "dist/relay/src/main.js"]
