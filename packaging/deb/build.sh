#!/usr/bin/env bash
# packaging/deb/build.sh: build drover_VERSION_ARCH.deb and
# drover-agent_VERSION_ARCH.deb with dpkg-deb from an existing build.
#   packaging/deb/build.sh [BUILD]      (default: build; `make deb`)
# The packages land in BUILD/deb/. Library dependencies come from
# dpkg-shlibdeps when it is installed, else from a fixed list.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${1:-${BUILD:-build}}
VERSION=${VERSION:-$("$BUILD/drover-agent" --version | awk '{print $2}')}
ARCH=$(dpkg --print-architecture)
OUT=$BUILD/deb
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$OUT"

for b in drover drover-agent; do
    [ -x "$BUILD/$b" ] || { echo "build.sh: $BUILD/$b missing: run make first" >&2; exit 1; }
done

# depends BINARY: the Depends line for a binary.
depends() {
    local deps=""
    if command -v dpkg-shlibdeps >/dev/null; then
        local tmp
        tmp=$(mktemp -d)
        mkdir -p "$tmp/debian"
        : >"$tmp/debian/control"
        deps=$(cd "$tmp" && dpkg-shlibdeps -O "$OLDPWD/$1" 2>/dev/null |
            sed -n 's/^shlibs:Depends=//p') || deps=""
        rm -rf "$tmp"
    fi
    echo "${deps:-libc6, libzmq5 (>= 4.3), libsodium23, libmsgpackc2, libssh2-1, libcurl4, libyaml-0-2, libjansson4, libsqlite3-0}"
}

# fill TEMPLATE DEST BINARY
fill() {
    sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" \
        -e "s/@DEPENDS@/$(depends "$3" | sed 's/[\/&]/\\&/g')/" "$1" >"$2"
}

# --- drover-agent ------------------------------------------------------------
R=$STAGE/drover-agent
install -d "$R/DEBIAN" "$R/usr/sbin" "$R/etc/drover" "$R/lib/systemd/system" \
    "$R/usr/share/doc/drover-agent"
install -m 0755 -s "$BUILD/drover-agent" "$R/usr/sbin/drover-agent"
install -m 0644 packaging/deb/drover-agent/agent.conf "$R/etc/drover/agent.conf"
install -m 0644 packaging/deb/drover-agent/drover-agent.service \
    "$R/lib/systemd/system/drover-agent.service"
install -m 0644 docs/agent.md proto/PROTOCOL.md "$R/usr/share/doc/drover-agent/"
fill packaging/deb/drover-agent/control "$R/DEBIAN/control" "$BUILD/drover-agent"
install -m 0644 packaging/deb/drover-agent/conffiles "$R/DEBIAN/conffiles"
for s in postinst prerm postrm; do
    install -m 0755 "packaging/deb/drover-agent/$s" "$R/DEBIAN/$s"
done
dpkg-deb --root-owner-group --build "$R" "$OUT/drover-agent_${VERSION}_${ARCH}.deb"

# --- drover ------------------------------------------------------------------
R=$STAGE/drover
install -d "$R/DEBIAN" "$R/usr/bin" "$R/usr/share/doc/drover"
install -m 0755 -s "$BUILD/drover" "$R/usr/bin/drover"
for f in README.md docs/*.md; do
    [ -e "$f" ] && install -m 0644 "$f" "$R/usr/share/doc/drover/"
done
fill packaging/deb/drover/control "$R/DEBIAN/control" "$BUILD/drover"
dpkg-deb --root-owner-group --build "$R" "$OUT/drover_${VERSION}_${ARCH}.deb"
ls -l "$OUT"/*.deb
