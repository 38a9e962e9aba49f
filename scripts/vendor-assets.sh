#!/usr/bin/env bash
# Install the browser assets that the built course serves itself, so that the site and the
# lecture's slides work offline (no CDN): MathJax 3 (its es5/ build), reveal.js, require.js and
# the Jupyter widgets HTML manager (only used by pages that embed widget state).
#
# Called by `make book` / `make slides` (target `vendor`). Each package comes from the npm registry
# through `npm pack` (npm's cache makes a re-run offline), pinned to an exact version and checked
# against the registry's sha512 integrity below. Only the tarballs are fetched, never dependency
# trees. The result lands in _vendor/static/ (git-ignored, never committed); _config.yml lists that
# folder in `html_static_path`, so Sphinx copies it to _build/html/_static/.
#
# Usage: scripts/vendor-assets.sh [--force]
set -euo pipefail
cd "$(dirname "$0")/.."

# name@version  sha512 integrity (npm view NAME@VERSION dist.integrity)
PINS=(
  "mathjax@3.2.2 sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw=="
  "reveal.js@5.2.1 sha512-r7//6mIM5p34hFiDMvYfXgyjXqGRta+/psd9YtytsgRlrpRzFv4RbH76TXd2qD+7ZPZEbpBDhdRhJaFgfQ7zNQ=="
  "requirejs@2.3.7 sha512-DouTG8T1WanGok6Qjg2SXuCMzszOo0eHeH9hDZ5Y4x8Je+9JB38HdTLT4/VA8OaUhBa0JPVHJ0pyBkM1z+pDsw=="
  "@jupyter-widgets/html-manager@1.0.6 sha512-+Mn+Ra8wyIHrYaUpfmf9A3dsLkt/NuwzPQN8sthdxBD35VV5cOJbpmgMhNR27n/rmP3mKyEe0PWCJrtZrXTXDQ=="
)

VENDOR=_vendor
STATIC=$VENDOR/static
STAMP="$VENDOR/.stamp-$(cksum <"$0" | cut -d' ' -f1)"
if [[ "${1:-}" != "--force" && -f "$STAMP" && -f "$STATIC/mathjax/tex-chtml.js" ]]; then
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "vendor-assets: npm not found; installing Debian's npm (needs apt and root or sudo)" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
  if command -v apt-get >/dev/null 2>&1; then
    $SUDO apt-get install -y -q npm >/dev/null 2>&1 \
      || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q npm >/dev/null 2>&1; } \
      || true
  fi
  command -v npm >/dev/null 2>&1 || {
    echo "vendor-assets: ERROR: npm is required to fetch MathJax and reveal.js (apt-get install npm)" >&2
    exit 1
  }
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vendor-assets.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/tgz" "$WORK/static"

unpack() {  # unpack SPEC INTEGRITY -> prints the folder holding the package's files
  local spec=$1 want=$2 json got file dir
  json=$(cd "$WORK/tgz" && npm pack --json --silent --loglevel=error "$spec")
  got=$(printf '%s' "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["integrity"])')
  file=$(printf '%s' "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["filename"])')
  if [[ "$got" != "$want" ]]; then
    echo "vendor-assets: ERROR: integrity mismatch for $spec: got $got, want $want" >&2
    exit 1
  fi
  # npm pack names scoped tarballs scope-name-version.tgz; check the bytes ourselves as well
  got=$(python3 - "$WORK/tgz/$file" <<'PY'
import base64, hashlib, sys
print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())
PY
)
  if [[ "$got" != "$want" ]]; then
    echo "vendor-assets: ERROR: $file does not match its pinned sha512" >&2
    exit 1
  fi
  dir="$WORK/pkg/${spec//\//_}"
  mkdir -p "$dir"
  tar -xzf "$WORK/tgz/$file" -C "$dir"
  echo "$dir/package"
}

for pin in "${PINS[@]}"; do
  read -r spec integrity <<<"$pin"
  src=$(unpack "$spec" "$integrity")
  case "$spec" in
    mathjax@*)
      cp -r "$src/es5" "$WORK/static/mathjax"
      cp "$src/LICENSE" "$WORK/static/mathjax/LICENSE" ;;
    reveal.js@*)
      mkdir -p "$WORK/static/reveal.js"
      cp -r "$src/dist" "$src/plugin" "$src/LICENSE" "$WORK/static/reveal.js/"
      find "$WORK/static/reveal.js" -name '*.map' -delete
      # themes that @import web fonts from Google would not work offline: leave them out
      grep -l -E '@import url\((https?:)?//' "$WORK/static/reveal.js/dist/theme/"*.css | xargs -r rm -f ;;
    requirejs@*)
      mkdir -p "$WORK/static/requirejs"
      cp "$src/require.js" "$src/package.json" "$WORK/static/requirejs/" ;;
    @jupyter-widgets/html-manager@*)
      mkdir -p "$WORK/static/jupyter-widgets/html-manager"
      cp "$src/package.json" "$WORK/static/jupyter-widgets/html-manager/"
      mkdir -p "$WORK/static/jupyter-widgets/html-manager/dist"
      cp "$src/dist/embed-amd.js" "$src/dist/embed.js.LICENSE.txt" "$WORK/static/jupyter-widgets/html-manager/dist/"
      # the bundled modules' fonts (FontAwesome), next to each module's require.js URL
      for f in "$src"/dist/*.{woff2,woff,ttf,eot,svg}; do
        cp "$f" "$WORK/static/jupyter-widgets/html-manager/dist/"
        cp "$f" "$WORK/static/jupyter-widgets/"
      done ;;
  esac
  echo "vendor-assets: $spec"
done

rm -rf "$STATIC.old"
mkdir -p "$VENDOR"
[ -d "$STATIC" ] && mv "$STATIC" "$STATIC.old"
mv "$WORK/static" "$STATIC"
rm -rf "$STATIC.old" "$VENDOR"/.stamp-*
touch "$STAMP"
# Sphinx copies new static files but never deletes old ones: render the site afresh (the
# execution cache in _build/.jupyter_cache is kept, so no chapter runs again)
rm -rf _build/html
echo "vendor-assets: installed into $STATIC ($(du -sh "$STATIC" | cut -f1))"
