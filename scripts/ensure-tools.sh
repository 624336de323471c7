# Sourced by the npm scripts: makes sure the Debian packages and node modules they need are here.
# Root installs what is missing; anyone else is told the exact command to run.

ensure_debian_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "tsbuild needs these Debian packages: ${missing[*]}" >&2
    echo "run as root: apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# npm ci only when node_modules is missing or older than the lockfile, so repeated runs are quick.
ensure_node_modules() {
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
  fi
}

build_workspace() {
  # A checkout that already has node_modules skips npm ci: rebuild the addon when a source is newer.
  local addon=packages/oci-layout/native/build/Release/fsnative.node
  if [ ! -f "$addon" ] || [ -n "$(find packages/oci-layout/native -maxdepth 1 -newer "$addon" \( -name '*.[ch]' -o -name binding.gyp \) -print -quit)" ]; then
    npm rebuild @tsbuild/oci-layout
  fi
  npm run -s build
  make -s -C samples/hello hello
}

# The tests are type-checked too (vitest itself only strips types).
typecheck_tests() {
  npx tsc -p test/tsconfig.json
}
