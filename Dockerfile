# trainyard: multi-stage build; the runtime image holds the binary, CA roots and nothing else.
#   docker build -t trainyard .
#   docker run -p 3000:3000 -v trainyard-data:/data --env-file trainyard.env trainyard
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY app-manifest.yml ./
# Benches and tests are declared in Cargo.toml; empty stand-ins keep the manifest valid.
RUN mkdir -p benches/scale tests && for b in queue notes chat_ack deploy_relay dashboard; do echo 'fn main() {}' > benches/$b.rs; done \
    && echo 'fn main() {}' > benches/scale/main.rs
RUN cargo build --release --locked --bin trainyard

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data trainyard \
 && mkdir -p /data && chown trainyard /data
COPY --from=build /src/target/release/trainyard /usr/local/bin/trainyard
USER trainyard
WORKDIR /data
ENV TRAINYARD_LISTEN=0.0.0.0:3000 \
    DATABASE_URL=sqlite:///data/trainyard.db \
    TRAINYARD_LOG_FORMAT=json
EXPOSE 3000
VOLUME ["/data"]
# SIGTERM stops accepting and lets running jobs finish (TRAINYARD_SHUTDOWN_GRACE_SECS).
STOPSIGNAL SIGTERM
CMD ["trainyard", "serve"]
