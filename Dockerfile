# syntax=docker/dockerfile:1
# Multi-stage build: web assets, then the Rust binary (assets embedded), then a slim runtime.

FROM node:20-bookworm-slim AS web
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends make && rm -rf /var/lib/apt/lists/*
COPY Makefile ./
COPY web/package.json web/package-lock.json web/
RUN cd web && npm ci --no-audit --no-fund
COPY web web
RUN make web

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
COPY --from=web /src/web/dist web/dist
# The web assets come from the stage above; `make release-bin` only builds the binary.
RUN make release-bin

FROM debian:bookworm-slim AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /app --shell /usr/sbin/nologin uma \
    && mkdir -p /app/data /app/uploads && chown -R uma /app
WORKDIR /app
COPY --from=build /src/target/release/uma /usr/local/bin/uma
USER uma
ENV HOSTNAME=0.0.0.0 PORT=3004 UMA_DATA_DIR=/app/data UPLOAD_DIR=/app/uploads
EXPOSE 3004
VOLUME ["/app/data", "/app/uploads"]
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s CMD curl -fsS http://127.0.0.1:3004/healthz || exit 1
ENTRYPOINT ["uma"]
CMD ["serve"]
