#!/bin/sh
# Runs INSIDE the guest (root, cwd = the share): builds wlcap from the checkout copy in src/, starts
# sway on the virtio-gpu card, and runs the guest test suite (tests/guest) against it.
set -u
. ./wlcap-vm-lib.sh
SHARE=$(pwd)
wlcap_build_checkout || exit 1
wlcap_start_sway user || exit 1
export WLCAP_GUEST=1 WLCAP_SHARE="$SHARE"
python3 -m pytest -q -rP -p no:cacheprovider --junitxml="$SHARE/junit.xml" ${WLCAP_GUEST_TESTS:-tests/guest}
status=$?
wlcap_stop_sway
exit $status
