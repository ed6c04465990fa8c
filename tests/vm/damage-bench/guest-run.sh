#!/bin/sh
# Runs INSIDE the guest (root, cwd = the share): builds wlcap from src/ as guest-run.sh does, starts
# sway on the virtio-gpu card, and runs `wlcap bench --damage` over shm and DMA-BUF into bench-*.json.
set -u
. ./wlcap-vm-lib.sh
SHARE=$(pwd)
rm -rf /tmp/wlcap && cp -a "$SHARE/src" /tmp/wlcap && cd /tmp/wlcap || exit 1
python3 capture/protocols/generate.py || exit 1
python3 setup.py -q build_ext --inplace > "$SHARE/build.log" 2>&1 || { tail -30 "$SHARE/build.log"; exit 1; }
wlcap_start_sway user || exit 1
sleep 2  # the first frames of the output settle
status=0
for backend in shm dmabuf; do
  echo "== wlcap bench --damage --backend $backend ${WLCAP_BENCH_ARGS:-}"
  python3 -m capture bench --damage --backend "$backend" ${WLCAP_BENCH_ARGS:-} | tee "$SHARE/bench-$backend.json" \
    || status=1
done
wlcap_stop_sway
exit $status
