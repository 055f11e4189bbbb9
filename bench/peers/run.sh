#!/usr/bin/env bash
# Compare outrange with Keras, PyTorch and JAX on the default x² experiment and
# print one Markdown table. See README.md beside this script.
set -euo pipefail

usage="usage: bash bench/peers/run.sh [--seeds N] [--outrange-bin PATH]

  --seeds N            runs per framework, with seeds 1 to N (default: 3)
  --outrange-bin PATH  use this outrange binary instead of building one with
                       'cargo build --release'

Exits 1 when a Python peer failed to install or run. An outrange binary that is
missing or that writes no metrics.json only gives a warning and a row marked
missing, so that the Python peers' figures are still printed."

seeds=3
outrange_bin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds | --outrange-bin)
      if [ $# -lt 2 ]; then
        echo "run.sh: $1 needs a value" >&2
        echo "$usage" >&2
        exit 2
      fi
      if [ "$1" = --seeds ]; then seeds=$2; else outrange_bin=$2; fi
      shift 2
      ;;
    -h | --help)
      echo "$usage"
      exit 0
      ;;
    *)
      echo "run.sh: unknown argument '$1'" >&2
      echo "$usage" >&2
      exit 2
      ;;
  esac
done

if ! [[ "$seeds" =~ ^[1-9][0-9]*$ ]]; then
  echo "run.sh: --seeds must be a positive integer, got '$seeds'" >&2
  exit 2
fi

peers_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_dir="$(cd "$peers_dir/../.." && pwd)"
python="${PYTHON:-python3}"
frameworks=(keras torch jax)
work_dir="$(mktemp -d -t outrange-peers.XXXXXX)"
results="$work_dir/results.jsonl"
touch "$results"
peer_failures=0

warn() {
  echo "run.sh: $*" >&2
}

# Create bench/peers/.venv-NAME from requirements-NAME.txt. The copy of the
# requirements inside the venv marks a finished install, so a changed list
# reinstalls the venv and an unchanged one is reused.
ensure_venv() {
  local framework=$1
  local venv="$peers_dir/.venv-$framework"
  local requirements="$peers_dir/requirements-$framework.txt"

  if cmp -s "$requirements" "$venv/requirements.txt"; then
    return 0
  fi
  warn "installing $framework into $venv"
  rm -rf "$venv"
  "$python" -m venv "$venv" || return 1
  # The lists pin every package of the venv. --no-deps keeps out anything else,
  # which is how the torch venv avoids about 1 GB of unused GPU packages.
  "$venv/bin/pip" install --quiet --no-deps -r "$requirements" || return 1
  cp "$requirements" "$venv/requirements.txt"
}

# Set outrange_bin to a runnable binary, building it unless --outrange-bin gave one.
prepare_outrange() {
  if [ -z "$outrange_bin" ]; then
    if ! command -v cargo >/dev/null; then
      warn "cargo not found, so outrange is not measured"
      return 1
    fi
    if ! (cd "$repo_dir" && cargo build --release); then
      warn "'cargo build --release' failed, so outrange is not measured"
      return 1
    fi
    outrange_bin="$repo_dir/target/release/outrange"
  fi
  if [ ! -x "$outrange_bin" ]; then
    warn "outrange binary not found or not executable: $outrange_bin"
    return 1
  fi
}

# Append a line that marks a run without a result.
record_failure() {
  printf '{"framework": "%s", "seed": %s, "failed": true}\n' "$1" "$2" >>"$results"
}

run_peer() {
  local framework=$1 seed=$2
  local log="$work_dir/$framework-seed-$seed.log"
  local output

  if output="$(cd "$peers_dir" && ".venv-$framework/bin/python" "${framework}_x2.py" --seed "$seed" 2>"$log")"; then
    # A script that exits 0 without its result line has still failed.
    if [[ "$(tail -n 1 <<<"$output")" == '{"framework": '* ]]; then
      tail -n 1 <<<"$output" >>"$results"
      return 0
    fi
    echo "run.sh: no JSON result line in the output: $output" >>"$log"
  fi
  warn "$framework failed with seed $seed. The end of $log:"
  tail -n 5 "$log" >&2
  record_failure "$framework" "$seed"
  peer_failures=$((peer_failures + 1))
}

run_outrange() {
  local seed=$1
  local out="$work_dir/outrange-seed-$seed"
  local log="$out.log"

  if "$outrange_bin" run --verbose 0 --seed "$seed" --out "$out" --overwrite >"$log" 2>&1 &&
    "$python" "$peers_dir/table.py" from-metrics --seed "$seed" "$out/metrics.json" >>"$results" 2>>"$log"; then
    return 0
  fi
  warn "outrange wrote no metrics with seed $seed. The end of $log:"
  tail -n 5 "$log" >&2
  record_failure outrange "$seed"
}

installed=()
for framework in "${frameworks[@]}"; do
  if ensure_venv "$framework"; then
    installed+=("$framework")
  else
    warn "failed to install $framework, so its row shows as missing"
    record_failure "$framework" 0
    peer_failures=$((peer_failures + 1))
  fi
done

have_outrange=false
if prepare_outrange; then
  have_outrange=true
fi

# Other work on the machine slows every timing, so the output shows the load.
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

# Seeds are the outer loop, so that a slow phase of the machine spreads over
# all frameworks instead of falling on one.
for seed in $(seq 1 "$seeds"); do
  warn "seed $seed of $seeds"
  if $have_outrange; then
    run_outrange "$seed"
  fi
  for framework in "${installed[@]}"; do
    run_peer "$framework" "$seed"
  done
done

"$python" "$peers_dir/table.py" print "$results"
echo
echo "Machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')." \
  "Load average (1, 5, 15 min) before the runs: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Seeds 1 to $seeds. Raw results: $work_dir"

if [ "$peer_failures" -gt 0 ]; then
  warn "$peer_failures Python peer install(s) or run(s) failed, see the messages above"
  exit 1
fi
