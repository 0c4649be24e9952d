#!/usr/bin/env bash
# Before/after timing of two builds on the same machine in the same hour, interleaved
# old, new, new, old (this VM drifts by tens of percent between minutes).
#
#   OLD=/path/to/old-bins NEW=/path/to/new-bins bash benches/cpu/zoo_before_after.sh > out.txt
#
# Each folder holds the bench executables `train_throughput`, `zoo_models`, `zoo_icl_layers`
# (copy them from target/release/deps/ after
# `cargo bench --no-run --bench train_throughput --bench zoo_models --bench zoo_icl_layers`).
set -euo pipefail
: "${OLD:?folder of the old bench executables}" "${NEW:?folder of the new ones}"
ARGS=(--bench --warm-up-time 1 --measurement-time 3)
run() {
  echo "### $1 $2"
  "$3" "${ARGS[@]}" ${4:+"$4"} 2>&1 | grep -E "^[a-z_/0-9A-Z]+|time:"
}
for order in "old new" "new old"; do
  for who in $order; do
    dir=$OLD; [ "$who" = new ] && dir=$NEW
    run "$who" train "$dir/train_throughput" ""
    run "$who" zoo "$dir/zoo_models" ""
    run "$who" icl "$dir/zoo_icl_layers" icl_fwd_bwd
  done
done
