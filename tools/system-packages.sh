#!/usr/bin/env bash
# Debian packages the browser and Prometheus tests drive for real: Chromium and
# its driver (web view), Prometheus and promtool (exporter). Installed when this
# runs as root with apt-get; elsewhere the tests that need them skip with a reason.
set -uo pipefail
PACKAGES=(chromium chromium-driver prometheus)
have_all() {
    command -v chromium >/dev/null && command -v chromedriver >/dev/null \
        && command -v prometheus >/dev/null && command -v promtool >/dev/null
}
if have_all; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "note: not root or no apt-get: ${PACKAGES[*]} not installed; the browser and Prometheus tests will skip" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
install() { apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >/tmp/anomwatch-apt.log 2>&1; }
if ! install; then
    apt-get update -q >>/tmp/anomwatch-apt.log 2>&1
    install || { echo "note: apt-get could not install ${PACKAGES[*]} (see /tmp/anomwatch-apt.log); those tests will skip" >&2; exit 0; }
fi
exit 0
