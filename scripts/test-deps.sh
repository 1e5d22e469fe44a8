#!/usr/bin/env bash
# What `make test` needs beyond Rust and Python, installed where missing, so the test command
# passes on a fresh machine by itself (CI runs it on a clean clone):
# - Debian packages: headless Chromium opens the HTML report (tests/test_run_report.py);
#   nginx's stub_status counts connections (tests/keepalive.rs), and nginx with openssl's
#   certificates checks mTLS (tests/mtls.rs);
# - rustup's clippy and rustfmt for `make lint`.
# The Python side (ruff, mypy, pytest, and the package itself) comes with `make install-dev`.
set -euo pipefail

packages=()
command -v chromium >/dev/null 2>&1 || packages+=(chromium)
[ -x /usr/sbin/nginx ] || packages+=(nginx-light)
command -v openssl >/dev/null 2>&1 || packages+=(openssl)
if [ ${#packages[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "make test needs ${packages[*]} (Debian names); install them with your package manager" >&2
    exit 1
  fi
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "make test needs ${packages[*]}: run \`apt-get install ${packages[*]}\` as root, then make test again" >&2
      exit 1
    fi
    sudo=(sudo)
  fi
  echo "installing ${packages[*]} (Debian packages the tests use)"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
fi

for tool in clippy fmt; do
  if ! cargo "$tool" --version >/dev/null 2>&1; then
    component=$tool
    [ "$tool" = fmt ] && component=rustfmt
    if ! command -v rustup >/dev/null 2>&1; then
      echo "make lint needs cargo $tool: install the $component component of your Rust toolchain" >&2
      exit 1
    fi
    rustup component add "$component"
  fi
done
