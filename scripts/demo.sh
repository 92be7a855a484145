#!/usr/bin/env bash
# Installs what is missing, builds, and runs vhostd with two demo sites on 127.0.0.1:8080
# (HTTP) and 127.0.0.1:8443 (HTTPS, with a demo CA and certificates made on first run in
# build/demo-certs/):
#   curl -H 'Host: blog.example' 127.0.0.1:8080
#   curl --cacert build/demo-certs/ca.pem --resolve shop.example:8443:127.0.0.1 https://shop.example:8443/
# Ctrl-C stops it (and its workers).
set -euo pipefail
cd "$(dirname "$0")/.."
# Only what the demo runs: no test packages, no tests built (scripts/build.sh builds all,
# and configures a build/ made here as its own again).
./scripts/install-deps.sh demo
# A build/ made by scripts/build.sh is used as it is; otherwise the Quick build type (see
# CMakeLists.txt) compiles the demo in a third of the time.
[ -f build/build.ninja ] || cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Quick -DBUILD_TESTING=OFF
cmake --build build --parallel "${VHOSTD_BUILD_JOBS:-$(nproc)}" --target vhostd vhostctl hello-worker vhostd-static
certs=build/demo-certs
if [ ! -f "$certs/shop.pem" ]; then
  mkdir -p "$certs"
  new_key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365)
  openssl req -x509 "${new_key[@]}" -subj "/CN=vhostd demo CA" -keyout "$certs/ca.key" -out "$certs/ca.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2> /dev/null
  for site in blog shop; do
    openssl req -x509 "${new_key[@]}" -subj "/CN=$site.example" -CA "$certs/ca.pem" -CAkey "$certs/ca.key" \
      -addext "subjectAltName=DNS:$site.example,DNS:*.$site.example" -keyout "$certs/$site.key" -out "$certs/$site.pem" 2> /dev/null
  done
  echo "demo certificates in $certs (CA: $certs/ca.pem)"
fi
exec build/bin/vhostd -c examples/demo.toml "$@"
