# Patchbay: one container, data in /data.
#   docker build -t patchbay .
#   docker run -p 8080:8080 -v patchbay-data:/data patchbay
# The build stage compiles better-sqlite3 (python3, make, g++) and bundles src/ with esbuild
# (build.mjs: every dependency inside the bundle but the two native modules); the final stage
# has the bundle and those native modules only (`node build.mjs runtime`), no compilers and no
# dependency tree. npm stays (the image's own), for the fix pull requests that run it.
# Node.js 24 is an LTS line with security fixes until 2028 (Node 20's ended in April 2026);
# development and CI run 20.19+, which the code keeps working on (package.json engines).

FROM node:24-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY build.mjs tsconfig.json ./
COPY src src
COPY migrations migrations
RUN node build.mjs && node build.mjs runtime /runtime

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    PATCHBAY_DATA_DIR=/data \
    PORT=8080
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /runtime/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY views ./views
COPY public ./public
RUN mkdir -p /data && chown node:node /data && chmod 700 /data
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/server.js"]
