# sysflow-sensor image built from source (needs the Rust image from a registry; without one,
# build the binary on the host and use Dockerfile.runtime):
#
#   docker build -t sysflow-sensor .
#   # trace files (readable by uid 1001):
#   docker run --rm -v $PWD/traces:/traces:ro sysflow-sensor /traces
#   # collector socket (sf-collector writes to /sock/sysflow.sock; the directory writable by 1001):
#   docker run -d -v /var/run/sysflow:/sock sysflow-sensor
#   # native eBPF probes: build the probe object on the host first (nightly + bpf-linker,
#   # see docs/ebpf.md): `cargo xtask build-ebpf --release` writes target/sensor-ebpf/,
#   # which .dockerignore lets into the build context and sensor/build.rs embeds. Then root in
#   # the container with the capabilities of docs/container.md:
#   docker run -d --user 0 --pid=host --cap-drop ALL --cap-add BPF --cap-add PERFMON \
#     --cap-add SYS_PTRACE --cap-add DAC_READ_SEARCH --security-opt seccomp=unconfined \
#     -v /sys/kernel/btf:/sys/kernel/btf:ro sysflow-sensor --input ebpf

ARG RUST_IMAGE=rust:1.95-bookworm
ARG BASE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p sensor \
 && mkdir -p /out/rootfs/usr/local/bin /out/rootfs/etc/sysflow /out/rootfs/etc/ssl/certs \
 && strip -o /out/rootfs/usr/local/bin/sensor target/release/sensor \
 && cp -r conf /out/rootfs/etc/sysflow/conf \
 && cp /etc/ssl/certs/ca-certificates.crt /out/rootfs/etc/ssl/certs/

# The runtime stage, the same as Dockerfile.runtime's (a test keeps them equal).
FROM ${BASE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="sysflow-sensor" \
      org.opencontainers.image.description="All-in-one runtime-security sensor for Linux speaking SysFlow" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://example.invalid/sysflow-sensor" \
      org.opencontainers.image.documentation="https://example.invalid/sysflow-sensor/blob/main/docs/container.md"
COPY --from=build /out/rootfs/ /
# Metrics, /healthz and /readyz on port 9090 (the health check below asks /healthz).
ENV SENSOR_METRICS=0.0.0.0:9090
EXPOSE 9090
# File and socket modes need no privilege: uid/gid 1001, as sf-processor's `sysflow` user
# (numeric, so any base works). The eBPF mode runs with --user 0 and the capabilities of
# docs/container.md.
USER 1001:1001
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/sensor", "healthcheck"]
# Logs go to stderr; alerts (JSON) to stdout unless the pipeline says otherwise.
ENTRYPOINT ["/usr/local/bin/sensor", "run"]
CMD ["--input", "socket", "/sock/sysflow.sock"]
