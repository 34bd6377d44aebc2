# sysflow-sensor: `sensor run` with the built-in pipeline and rules (conf/).
#
#   docker build -t sysflow-sensor .
#   # trace files:   docker run --rm -v $PWD/traces:/traces:ro sysflow-sensor /traces
#   # collector socket (sf-collector writes to /sock/sysflow.sock):
#   docker run --rm -v /tmp/sock:/sock sysflow-sensor --input socket
#   # native eBPF probes: build the probe object on the host first (nightly + bpf-linker,
#   # see docs/ebpf.md): `cargo xtask build-ebpf --release` writes target/sensor-ebpf/,
#   # which .dockerignore lets into the build context and sensor/build.rs embeds.
#   docker run --rm --privileged --pid=host -v /sys/kernel:/sys/kernel:ro sysflow-sensor --input ebpf
#   # (what each flag is for, and narrower alternatives to --privileged: docs/container.md)

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p sensor \
 && strip target/release/sensor

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/sensor /usr/local/bin/sensor
COPY conf/ /etc/sysflow/conf/
# Logs go to stderr; alerts (JSON) to stdout unless the pipeline says otherwise.
ENTRYPOINT ["/usr/local/bin/sensor", "run"]
CMD ["--input", "socket", "/sock/sysflow.sock"]
