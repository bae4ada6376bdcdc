# Gatehouse: an OpenID Connect gateway in front of a helpdesk.
#
#   docker build -t gatehouse .
#   docker run --read-only -p 8080:8080 \
#     -v $PWD/gateway.yaml:/etc/gatehouse/gateway.yaml:ro \
#     -e GATEHOUSE_SESSION_SECRET=... gatehouse
#
# Three stages: build the TypeScript, install production dependencies only, and
# a runtime image with neither the compiler nor the dev dependencies, running as
# the unprivileged "node" user. Nothing is written at run time, so the root
# filesystem can be read-only. See docs/operations.md.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json gateway.schema.json ./
# the documented example; mount your own file over it (or a directory over /etc/gatehouse)
COPY gateway.yaml /etc/gatehouse/gateway.yaml
# uid 1000, no shell login, owns nothing in /app: the code cannot be changed by the process running it
USER node
EXPOSE 8080
# node itself, no curl in the image: GET /.gatehouse/healthz on this instance's own listener
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "dist/cli.js", "healthcheck", "--config", "/etc/gatehouse/gateway.yaml"]
# node as PID 1 is fine: Gatehouse handles SIGTERM (drain, exit 0) and SIGHUP (reload) itself
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["serve", "--config", "/etc/gatehouse/gateway.yaml"]
