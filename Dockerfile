# The Stagecoach image: the worker (`stagecoach worker`, the default command) and the `stagecoach` CLI, for
# docker-compose.yml. Node 20 is required by the Temporal SDK (Debian bookworm's own nodejs is 18).
#
# Where no registry is reachable, `npm run provision -- --compose` builds a local node:20-bookworm-slim stand-in
# (deploy/node/Dockerfile) first; NODE_IMAGE picks another base (any Debian-based Node >= 20.3 image).
ARG NODE_IMAGE=node:20-bookworm-slim
FROM ${NODE_IMAGE}
# git: the activities mirror and archive pipeline repositories. A repository mounted from the host belongs to the
# host's user, not root: trust mounted repositories (git's safe.directory check).
# chromium (+ the font it recommends): Lighthouse in the contentAudit step (without it the audit reports "not scored").
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates chromium fonts-liberation \
 && rm -rf /var/lib/apt/lists/* \
 && git config --system --add safe.directory '*'
WORKDIR /stagecoach
COPY package.json package-lock.json ./
# `npm ci`; where the registry lacks other platforms' optional binaries (so lockfiles written there leave them out and
# npm ci refuses with "Missing: <pkg>@ from lock file", see .ci/run), `npm install` from the same lockfile instead.
RUN (npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
     || npm install --omit=dev --ignore-scripts --no-audit --no-fund --no-save) \
 && npm cache clean --force
COPY tsconfig.json ./
COPY bin ./bin
COPY examples ./examples
COPY src ./src
RUN ln -s /stagecoach/bin/stagecoach /usr/local/bin/stagecoach
# Runtime state (git mirrors, the artifact store, the sample repository) goes to /stagecoach/.stagecoach: mount it.
CMD ["stagecoach", "worker"]
