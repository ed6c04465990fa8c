#!/bin/sh
# Runs INSIDE the guest (root, cwd = the share): builds wlcap from the checkout copy in src/, starts
# sway on the virtio-gpu card (windows without borders; WLCAP_BENCH_MODE sets the output's mode), and runs
# tools/bench/peer_bench.py:
# wlcap's OBS source against OBS 32's PipeWire screen capture through Debian testing's portal chain
# (xdg-desktop-portal, xdg-desktop-portal-wlr 0.8, PipeWire, WirePlumber), with DMA-BUF. Writes
# SHARE/peer-bench.json and SHARE/peer-bench.md (WLCAP_BENCH_ARGS passes the bench options).
set -u
. ./wlcap-vm-lib.sh
SHARE=$(pwd)
wlcap_build_checkout || exit 1
printf 'default_border none\n' > /tmp/wlcap-bench-sway.conf
chmod 644 /tmp/wlcap-bench-sway.conf
WLCAP_SWAY_CONFIG=/tmp/wlcap-bench-sway.conf wlcap_start_sway user || exit 1
sleep 2  # the first frames of the output settle
outputs() {  # NAME WIDTHxHEIGHT of the first output, then the modes it offers
  swaymsg -t get_outputs -r | python3 -c 'import json, sys; o = json.load(sys.stdin)[0]; m = o["current_mode"]
print(o["name"], "%dx%d" % (m["width"], m["height"]), " ".join(sorted({"%dx%d" % (n["width"], n["height"]) for n in o["modes"]})))'
}
set -- $(outputs)
output=$1
shift 2
echo "== $output offers: $*"
if [ -n "${WLCAP_BENCH_MODE:-}" ]; then  # a smaller screen is cheaper to repaint under emulation
  swaymsg output "$output" mode "$WLCAP_BENCH_MODE" >/dev/null || echo "== $output: no mode $WLCAP_BENCH_MODE"
  sleep 2
  set -- $(outputs)
fi
mode=$2
echo "== peer_bench.py on $output ($mode) ${WLCAP_BENCH_ARGS:-}"
OBS_HOST_PLATFORM=wayland python3 tools/bench/peer_bench.py --running --output "$output" --sizes "$mode" \
  --compositor-pids "$SWAY_PID" --backend dmabuf --json "$SHARE/peer-bench.json" ${WLCAP_BENCH_ARGS:-} \
  > "$SHARE/peer-bench.md"
status=$?
cat "$SHARE/peer-bench.md"
wlcap_stop_sway
exit $status
