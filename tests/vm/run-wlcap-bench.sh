#!/bin/bash
# Host side of the damage benchmark in the guest tier: like run-wlcap-tests.sh, but the guest runs
# tests/vm/capture/bench-run.sh (`wlcap bench --damage`, shm and DMA-BUF); the JSON figures come back
# as SHARE_DIR/bench-shm.json and bench-dmabuf.json. Extra arguments for the bench: WLCAP_BENCH_ARGS.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SHARE=${1:-$(mktemp -d /tmp/wlcap-vm-bench.XXXXXX)}
mkdir -p "$SHARE/src"
(cd "$REPO" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -xf - -C "$SHARE/src"
cp "$HERE/capture/bench-run.sh" "$SHARE/guest-run.sh"
if [ -n "${WLCAP_BENCH_ARGS:-}" ]; then
  sed -i "2i export WLCAP_BENCH_ARGS='${WLCAP_BENCH_ARGS}'" "$SHARE/guest-run.sh"
fi
"$HERE/run-guest.sh" -t "${WLCAP_VM_TIMEOUT:-600}" "$SHARE"
status=$?
echo "vm bench: share $SHARE (guest.log, bench-shm.json, bench-dmabuf.json)" >&2
[ -f "$SHARE/guest.log" ] && cat "$SHARE/guest.log" >&2
exit $status
