#!/usr/bin/env bash
# mmf-node as one self-contained folder for linux-x64: the .NET runtime inside, so the host needs
# no .NET (a GPU or FPGA box). Trimmed in partial mode: only the framework's trimmable assemblies
# lose what nothing calls; the project's own assemblies and gRPC are rooted whole
# (node/MatMulFree.NodeHost/MatMulFree.NodeHost.csproj), since gRPC binds services by reflection.
#   deploy/node/publish.sh [OUT]     default OUT: artifacts/node/linux-x64 (git-ignored)
# Run it as OUT/mmf-node --model DIR --port P; copy OUT anywhere (tar cJf node.tar.xz -C OUT .).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-$root/artifacts/node/linux-x64}"
# Only a folder this script made (or none) is replaced: OUT might be mistyped as something precious.
if [ -e "$out" ] && [ -n "$(ls -A "$out")" ] && [ ! -e "$out/mmf-node" ]; then
  echo "error: $out exists and holds no earlier mmf-node publish; give an empty or new folder" >&2
  exit 2
fi
rm -rf "$out"
dotnet publish "$root/node/MatMulFree.NodeHost/MatMulFree.NodeHost.csproj" -c Release -r linux-x64 \
  --self-contained true -p:TrimNode=true -o "$out"
echo "published $out ($(du -sh "$out" | cut -f1))"
