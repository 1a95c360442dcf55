#!/usr/bin/env bash
# Installs Debian's `chromium` when it is missing: the headless browser the dashboard's tests
# (test/e2e/dashboard.test.ts) and `npm run screenshots` drive through playwright-core
# (`npx playwright install` cannot download a browser here; docs/facts.md, "Docker and Swarm").
# Prints the browser's path on stdout; what it installs, and why it could not, on stderr.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

# DW_CHROMIUM names a browser to use instead; else Debian's, else one a CI image ships
# (GitHub's Ubuntu runners have Chromium and Chrome preinstalled; Ubuntu's own apt package is a
# snap wrapper).
if [ -n "${DW_CHROMIUM:-}" ]; then
  if [ -x "$DW_CHROMIUM" ]; then echo "$DW_CHROMIUM"; exit 0; fi
  echo "install-chromium: DW_CHROMIUM=$DW_CHROMIUM is not an executable file" >&2
  exit 1
fi
for candidate in /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome-stable /usr/bin/google-chrome; do
  if [ -x "$candidate" ]; then echo "$candidate"; exit 0; fi
done

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: no apt-get here: install Chromium by hand (/usr/bin/chromium)" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ] && ! sudo -n true 2>/dev/null; then
  echo "install-chromium: apt-get needs root or password-less sudo: install Debian's chromium by hand" >&2
  exit 1
fi
echo "install-chromium: installing Debian's chromium (apt-get, about a minute, once)" >&2
apt_log=$(mktemp)
trap 'rm -f "$apt_log"' EXIT
if ! { as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends chromium; } >"$apt_log" 2>&1; then
  echo "install-chromium: apt-get install chromium failed: $(tail -n 5 "$apt_log" | tr '\n' ' ')" >&2
  exit 1
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "install-chromium: apt-get finished but /usr/bin/chromium is not there" >&2
  exit 1
fi
echo /usr/bin/chromium
