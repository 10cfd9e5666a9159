# tagline: a self-hosted server-side tagging gateway.
#   docker build -t tagline .
#   docker run -p 8080:8080 -v $PWD/tagline.yaml:/etc/tagline/tagline.yaml:ro \
#     -e META_ACCESS_TOKEN=... tagline
# The config is read from /etc/tagline/tagline.yaml (TAGLINE_CONFIG); without a mount there, the
# image runs the quickstart config.
FROM node:26-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY common ./common
COPY protocol ./protocol
COPY server ./server
COPY clients ./clients
COPY tags ./tags
COPY config ./config
COPY schemas ./schemas
RUN npm run build && npm prune --omit=dev

FROM node:26-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY config/examples ./config/examples
COPY schemas/config.schema.json ./schemas/config.schema.json
COPY config/examples/quickstart.yaml /etc/tagline/tagline.yaml
ENV TAGLINE_CONFIG=/etc/tagline/tagline.yaml
# The spool (events left undelivered at shutdown, replayed at the next start) lives here:
# mount a volume so it survives a restart of the container.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 8080
VOLUME ["/app/data"]
# /healthz of the gateway the config describes (its ops port when server.opsPort is set).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["node", "bin/tagline.js", "health"]
ENTRYPOINT ["node", "bin/tagline.js"]
CMD ["start"]
