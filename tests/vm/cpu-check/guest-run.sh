#!/bin/sh
# Runs INSIDE the guest: does the stack live through a real terminal scrolling on screen, with OBS
# drawing wlcap's DMA-BUFs of it (sway), and with no capture at all (Hyprland)? Run it with the CPU
# model to judge (tests/vm/README.md, "CPU model"):
#   WLCAP_GUEST_RUN=cpu-check WLCAP_VM_CPU=max tests/vm/run-wlcap-tests.sh SHARE   # QEMU 7.2's AVX
#   WLCAP_GUEST_RUN=cpu-check tests/vm/run-wlcap-tests.sh SHARE                    # the tier's model
# Exit 0 when everything lived; what happened is in SHARE/cpu-check.json.
set -u
. ./wlcap-vm-lib.sh
SHARE=$(pwd)
wlcap_build_checkout || exit 1
export WLCAP_SHARE="$SHARE"
python3 tests/vm/cpu-check/check.py "$SHARE/cpu-check.json"
