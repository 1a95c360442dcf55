# The distributed-workers image: one image, two roles. The entrypoint is the built CLI, so
#   docker run IMAGE            runs a manager (the default command)
#   docker run IMAGE worker     runs a worker
# and any other CLI command or flag works the same way (docker run IMAGE worker --help).
# Build: docker build -t distributed-workers:0.1.0 .

# Build stage: all dependencies (TypeScript, esbuild, Preact, uPlot), compile to dist/ and
# bundle the dashboard into dist/ui/ (served at /ui/; no CDN, nothing fetched at run time).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are here; esbuild's postinstall
# only checks its binary, which its platform package (@esbuild/linux-x64) brings anyway.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json index.ts ./
COPY src ./src
COPY ui ./ui
COPY scripts/build-ui.mjs ./scripts/build-ui.mjs
RUN npm run build

# Runtime stage: production dependencies and dist/ only, as an unprivileged user.
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
# The manager's young-generation cap (src/local/node-flags.ts): peak RSS under 150 MB. The
# stack file and the chart give workers their own, larger one; NODE_OPTIONS overrides both.
ENV NODE_OPTIONS=--max-semi-space-size=8
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY deploy/docker/healthcheck.cjs ./deploy/docker/healthcheck.cjs
# The image's unprivileged `node` user, by number so Kubernetes can check runAsNonRoot.
USER 1000:1000
EXPOSE 8080
# The manager answers GET /healthz while its process runs; a worker has no HTTP port, so the
# check passes while it runs (Docker already watches its process). See healthcheck.cjs.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "deploy/docker/healthcheck.cjs"]
ENTRYPOINT ["node", "dist/index.js"]
CMD ["manager"]
