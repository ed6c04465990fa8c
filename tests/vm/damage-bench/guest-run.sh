#!/bin/sh
# Runs INSIDE the guest (root, cwd = the share): builds wlcap from the checkout copy in src/, starts
# sway on the virtio-gpu card, and runs tools/bench/damage_bench.py over shm and DMA-BUF into bench-*.json
# (WLCAP_BENCH_ARGS passes it options).
set -u
. ./wlcap-vm-lib.sh
SHARE=$(pwd)
wlcap_build_checkout || exit 1
wlcap_start_sway user || exit 1
sleep 2  # the first frames of the output settle
status=0
for backend in shm dmabuf; do
  echo "== damage_bench.py --backend $backend ${WLCAP_BENCH_ARGS:-}"
  python3 tools/bench/damage_bench.py --backend "$backend" ${WLCAP_BENCH_ARGS:-} | tee "$SHARE/bench-$backend.json" \
    || status=1
done
wlcap_stop_sway
exit $status
