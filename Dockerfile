# The Stagecoach worker (and CLI) image, for docker-compose.yml. Node 20 is required by the Temporal SDK.
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /stagecoach
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
COPY examples ./examples
COPY bin ./bin
CMD ["node", "bin/stagecoach", "worker"]
