#!/usr/bin/env bash
# Builds a faster meshsim for large batches with profile-guided optimisation (PGO): an
# instrumented meshsim runs a training set, and the release build is then laid out and inlined
# for the branches those runs took. On the benchmark of BENCHMARKS.md a replication takes a fifth
# fewer instructions and 10–20 % less time than with the plain release build, with byte-identical
# outputs.
#
#   experiments/deploy/pgo/build.sh [--scenario FILE]... [--sweep FILE]... [-- CARGO_ARGS...]
#
# The training set: every built-in scenario and fidelity case, and training-sweep.yaml (the
# benchmark's load at 1, 8 and 100 pods per deployment); --scenario and --sweep add your own,
# which is worth it when they exercise what the built-in ones do not (many regions, say).
# CARGO_ARGS name more binaries built with the same profile (`-p benches --bin mesh-throughput`).
# The binary lands in target/pgo/release/meshsim. Before it is kept, it runs the first training
# scenario and sweep again and must write the very bytes the instrumented build wrote.
#
# Needs the toolchain's llvm-profdata (rustup's llvm-tools component), added here if missing.
set -euo pipefail
cd "$(dirname "$0")/../../.."

scenarios=(experiments/scenarios/*.yaml experiments/fidelity/cases/*.yaml)
sweeps=(experiments/deploy/pgo/training-sweep.yaml)
cargo_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --scenario) scenarios+=("${2:?--scenario needs a file}"); shift 2 ;;
    --sweep) sweeps+=("${2:?--sweep needs a file}"); shift 2 ;;
    --) shift; cargo_args=("$@"); break ;;
    *) echo "usage: $0 [--scenario FILE]... [--sweep FILE]... [-- CARGO_ARGS...]" >&2; exit 2 ;;
  esac
done
for file in "${scenarios[@]}" "${sweeps[@]}"; do
  [ -f "$file" ] || { echo "$0: no such training file: $file" >&2; exit 2; }
done

host=$(rustc -vV | sed -n 's/^host: //p')
profdata="$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata"
if [ ! -x "$profdata" ]; then
  rustup component add llvm-tools
fi

train=target/pgo-train
rm -rf "$train"
mkdir -p "$train/profiles"
profiles=$(cd "$train/profiles" && pwd)

echo "pgo: building the instrumented meshsim" >&2
# Value profiling needs more counters per site than LLVM's default to track this program's calls.
CARGO_TARGET_DIR="$train/build" \
  RUSTFLAGS="-Cprofile-generate=$profiles -Cllvm-args=-vp-counters-per-site=8" \
  cargo build --release --locked -p experiments --bin meshsim
# Build scripts ran instrumented too; only the training runs belong in the profile.
rm -f "$profiles"/*.profraw

# Runs `meshsim ARGS...` with `binary`, its messages kept in $train/out/NAME.log, and stops
# the build, naming the run and its log, if it fails.
run_quietly() {
  local name=$1 binary=$2
  shift 2
  if ! "$binary" "$@" >/dev/null 2>"$train/out/$name.log"; then
    echo "pgo: meshsim $* failed; its messages are in $train/out/$name.log" >&2
    exit 1
  fi
}

echo "pgo: training on ${#scenarios[@]} scenarios and ${#sweeps[@]} sweeps" >&2
instrumented="$train/build/release/meshsim"
mkdir -p "$train/out"
export LLVM_PROFILE_FILE="$profiles/meshsim-%p-%m.profraw"
for i in "${!scenarios[@]}"; do
  run_quietly "scenario-$i" "$instrumented" run "${scenarios[$i]}" --replications 2 --out "$train/out/scenario-$i"
done
for i in "${!sweeps[@]}"; do
  run_quietly "sweep-$i" "$instrumented" sweep "${sweeps[$i]}" --out "$train/out/sweep-$i"
done
unset LLVM_PROFILE_FILE
"$profdata" merge -o "$train/meshsim.profdata" "$profiles"

echo "pgo: building with the profile" >&2
CARGO_TARGET_DIR=target/pgo RUSTFLAGS="-Cprofile-use=$(pwd)/$train/meshsim.profdata" \
  cargo build --release --locked -p experiments --bin meshsim "${cargo_args[@]}"

# Same source, same seed: the optimised binary must write what the instrumented one wrote.
run_quietly check-scenario target/pgo/release/meshsim run "${scenarios[0]}" --replications 2 \
  --out "$train/out/check-scenario"
run_quietly check-sweep target/pgo/release/meshsim sweep "${sweeps[0]}" --out "$train/out/check-sweep"
for pair in "scenario-0 check-scenario ${scenarios[0]}" "sweep-0 check-sweep ${sweeps[0]}"; do
  read -r trained checked file <<<"$pair"
  if ! diff -r "$train/out/$trained" "$train/out/$checked" >/dev/null; then
    echo "pgo: target/pgo/release/meshsim wrote other results than the instrumented build for $file" >&2
    exit 1
  fi
done
rm -rf "$train/build"
echo "pgo: built target/pgo/release/meshsim (profile: $train/meshsim.profdata)" >&2
