#!/bin/sh
# Runs INSIDE the guest (root, cwd = the share): builds wlcap from the checkout copy in src/, starts
# sway on the virtio-gpu card, and runs the explicit-sync render benchmark (tools/bench/obs_fence_bench.py;
# WLCAP_BENCH_ARGS passes it options).
set -u
. ./wlcap-vm-lib.sh
SHARE=$(pwd)
wlcap_build_checkout || exit 1
wlcap_start_sway user || exit 1
export WLCAP_SHARE="$SHARE" PYTHONPATH=/tmp/wlcap:/tmp/wlcap/obs_plugin
python3 tools/bench/obs_fence_bench.py ${WLCAP_BENCH_ARGS:-}
status=$?
wlcap_stop_sway
exit $status
