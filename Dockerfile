# One image for every authmesh process: each container picks its role with AUTHMESH_SERVICES
# (a service name, or "gateway"); the sample API and the Envoy config renderer use it too.

# Build stage. npm ci runs `npm run gen` (postinstall): generated code and build/descriptor.binpb,
# which the services (reflection) and Envoy's transcoder both need; dev dependencies hold the
# generators and the compiler. `npm run build` compiles services/, gateway/, gen/ and the sample
# API to JavaScript under dist/ (scripts/build.mjs); then the dev dependencies are removed.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json buf.yaml buf.gen.yaml ./
COPY scripts ./scripts
COPY proto ./proto
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# Runtime stage: node on the compiled JavaScript, production dependencies only (no tsx, esbuild,
# buf or test tooling), and the files found at run time: package.json ("type": "module"), the
# migrations (db/), the descriptor set, the health-check and Envoy-render scripts and the Envoy
# template (docker-compose.yml's health checks and envoy-config container), hazelcast.xml.
FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production \
    AUTHMESH_GRPC_HOST=0.0.0.0 \
    AUTHMESH_HTTP_HOST=0.0.0.0 \
    AUTHMESH_METRICS_HOST=0.0.0.0 \
    AUTHMESH_DATA_DIR=/var/lib/authmesh
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/build/descriptor.binpb ./build/descriptor.binpb
COPY --from=build /app/db ./db
COPY --from=build /app/scripts ./scripts
COPY --from=build /app/envoy ./envoy
# The Hazelcast member configuration: deploy/k8s copies it out of this image into the members.
COPY --from=build /app/hazelcast ./hazelcast
# Private to the service user: authmesh refuses a data directory others can read (it holds keys).
RUN install -d -m 0700 -o node -g node /var/lib/authmesh
USER node
# gRPC, HTTP (a gateway), Prometheus /metrics (README "Metrics").
EXPOSE 50051 8080 9464
CMD ["node", "--enable-source-maps", "dist/services/main.js"]
