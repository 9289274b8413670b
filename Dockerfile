# One image for every authmesh process: each container picks its role with AUTHMESH_SERVICES
# (a service name, or "gateway"); the sample API and the Envoy config renderer use it too.
FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production \
    AUTHMESH_GRPC_HOST=0.0.0.0 \
    AUTHMESH_HTTP_HOST=0.0.0.0 \
    AUTHMESH_DATA_DIR=/var/lib/authmesh
# npm ci runs `npm run gen` (postinstall): generated code and build/descriptor.binpb, which the
# services (reflection) and Envoy's transcoder both need. Dev dependencies hold the generators.
COPY package.json package-lock.json buf.yaml buf.gen.yaml ./
COPY scripts ./scripts
COPY proto ./proto
RUN npm ci --no-audit --no-fund && npm cache clean --force
COPY . .
# Private to the service user: authmesh refuses a data directory others can read (it holds keys).
RUN install -d -m 0700 -o node -g node /var/lib/authmesh
USER node
EXPOSE 50051 8080
CMD ["node_modules/.bin/tsx", "services/main.ts"]
