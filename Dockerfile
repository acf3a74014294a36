# syntax=docker/dockerfile:1
# registry-gateway, production image: docs/deployment.md.
#   docker build -t registry-gateway:0.1.0 .
# Stage 1 builds the release binary from Cargo.lock (--locked) with the production feature
# set (--no-default-features: no embedded mock registries). Stage 2 is distroless: glibc and
# CA certificates, no shell, no package manager, running as the non-root user 65532.

ARG RUST_VERSION=1.95.0

FROM rust:${RUST_VERSION}-slim-bookworm AS build
# The release profile keeps line tables for profiling (86 MB of the 107 MB binary); the image
# keeps the symbols only (function names in backtraces): a 21 MB binary.
ENV CARGO_PROFILE_RELEASE_STRIP=debuginfo
WORKDIR /src
COPY . .
# The cache mounts keep crates and compiled dependencies between builds; the binary is copied
# out of the target cache, which is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --no-default-features --bin registry-gateway \
    && install -D -m 0755 target/release/registry-gateway /out/registry-gateway

FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="registry-gateway" \
      org.opencontainers.image.description="gRPC gateway in front of Kazakhstan's state registries, with the CheckOwner decision of joint order 801/500" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0"
COPY --from=build /out/registry-gateway /usr/local/bin/registry-gateway
USER 65532:65532
# gRPC (mutual TLS in production); admin HTTP: /metrics, /healthz, /readyz.
EXPOSE 50051 9464
ENTRYPOINT ["/usr/local/bin/registry-gateway"]
CMD ["--config", "/etc/registry-gateway/config/gateway.toml"]
