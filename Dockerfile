# syntax=docker/dockerfile:1
# Build stage: the whole workspace, release profile, locked dependencies.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin goodrobot-api --bin goodrobot-worker --bin goodrobot-migrate \
      --bin goodrobot-monitor \
    && mkdir -p /out \
    && cp target/release/goodrobot-api target/release/goodrobot-worker target/release/goodrobot-migrate \
       target/release/goodrobot-monitor /out/

# Runtime stage: a small Debian with CA certificates, a non-root user, the binaries only.
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin goodrobot
COPY --from=build /out/ /usr/local/bin/
USER goodrobot
ENV LOG_FORMAT=json \
    API_ADDR=0.0.0.0:8000
EXPOSE 8000 5555 9100
CMD ["goodrobot-api"]
