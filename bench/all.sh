#!/usr/bin/env bash
# The whole benchmark: bench/run.sh at scale 20 and at scale 60 (SCALES to change them), then pgrelocate's
# peak memory at each scale, to show it does not grow with the database. Run by hand, never in CI.
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$(mktemp -d /tmp/pgrelocate-bench-all-XXXXXX)"
trap 'rm -rf "$OUT"' EXIT
SCALES="${SCALES:-20 60}"
for scale in $SCALES; do
    echo "=== scale $scale ==="
    "$DIR/run.sh" "$scale" | tee "$OUT/$scale.out"
    echo
done

echo "pgrelocate peak memory by scale (target <= 200 MB, not growing with the database):"
printf '%-8s %-10s %-12s %s\n' scale database copy "migrate --via"
for scale in $SCALES; do
    size=$(sed -n 's/^Bench: .*events, \([0-9.]* [kMGT]*B\),.*/\1/p' "$OUT/$scale.out")
    copy=$(sed -n 's/^pgrelocate peak memory *= \([0-9]* MB\).*/\1/p' "$OUT/$scale.out")
    migrate=$(sed -n 's/^pgrelocate migrate peak memory *= \([0-9]* MB\).*/\1/p' "$OUT/$scale.out")
    printf '%-8s %-10s %-12s %s\n' "$scale" "$size" "$copy" "${migrate:--}"
done
