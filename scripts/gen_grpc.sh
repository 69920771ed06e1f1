#!/usr/bin/env bash
# Regenerate the Python modules for assistant_cli/providers/proto/grpc_predict_v2.proto.
#
# The generator is pinned to grpcio-tools 1.62 (protobuf 4.25 code generation) on purpose:
# that code runs on every protobuf from 4.25 up, and its _pb2_grpc module has no minimum
# grpcio check, which keeps the `grpc` extra's lower bounds (grpcio>=1.60,
# protobuf>=4.25) honest. A newer generator would silently raise both floors.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${GEN_GRPC_VENV:-$(mktemp -d)/gen}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "grpcio-tools==1.62.3"
fi
out=assistant_cli/providers/proto
"$venv/bin/python" -m grpc_tools.protoc -I "$out" \
  --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" \
  "$out/grpc_predict_v2.proto"
# protoc writes `import grpc_predict_v2_pb2`, which only works from inside the folder.
sed -i 's/^import grpc_predict_v2_pb2 as/from assistant_cli.providers.proto import grpc_predict_v2_pb2 as/' \
  "$out/grpc_predict_v2_pb2_grpc.py"
echo "regenerated $out/grpc_predict_v2_pb2.py, .pyi and _pb2_grpc.py"
