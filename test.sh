#!/usr/bin/env bash
# Runs every test of the solution. The npm packages the tests use (Azurite, the tokenizer oracle)
# are installed here from their lock files, so a fresh clone needs nothing else.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
for dir in deploy/azurite tests/oracles; do
  if [[ -f "$dir/package-lock.json" && ! -d "$dir/node_modules" ]]; then
    echo "test.sh: npm ci in $dir" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
dotnet build MatMulFree.Cluster.sln -c Release --nologo -v quiet -clp:ErrorsOnly
# One test assembly at a time (-m:1): the multi-process failover tests start three silo processes
# each and must not share the two cores with six other assemblies.
dotnet test MatMulFree.Cluster.sln -c Release --no-build --nologo -m:1 "$@"
# The engine again as a machine without AVX-512, without AVX2, and without any SIMD would run it:
# the fallback kernels and element-wise paths, goldens included (a few seconds each).
for isa in AVX512F AVX2 HWIntrinsic; do
  echo "test.sh: engine tests with $isa disabled" >&2
  env "DOTNET_Enable$isa=0" dotnet test tests/MatMulFree.Engine.Tests -c Release --no-build --nologo "$@"
done
