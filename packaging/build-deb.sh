#!/bin/sh
# build-deb.sh: build the labeld .deb with dpkg-deb from a staged tree, without cargo-deb.
#
#   packaging/build-deb.sh [BINARY] [OUTDIR]
#
# BINARY defaults to target/release/labeld (build it first: cargo build --release), OUTDIR to target/debian.
# Installs the same files as `cargo deb` with [package.metadata.deb] in Cargo.toml; tests/it/packaging.rs
# checks both layouts. DEB_COMPRESS (xz, gzip, zstd or none; default xz) picks the compression.
# Prints the path of the package written.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=${1:-$root/target/release/labeld}
out=${2:-$root/target/debian}
compress=${DEB_COMPRESS:-xz}

[ -x "$bin" ] || { echo "build-deb.sh: $bin is not an executable (cargo build --release first)" >&2; exit 2; }

version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"

install -D -m 0755 "$bin" "$stage/usr/bin/labeld"
strip --strip-debug "$stage/usr/bin/labeld" 2>/dev/null || true
install -D -m 0644 "$here/labeld.service" "$stage/lib/systemd/system/labeld.service"
install -D -m 0644 "$here/60-labeld.rules" "$stage/lib/udev/rules.d/60-labeld.rules"
install -D -m 0644 "$here/labeld.toml" "$stage/etc/labeld/labeld.toml"
install -D -m 0644 "$root/README.md" "$stage/usr/share/doc/labeld/README.md"
install -D -m 0644 "$root/docs/windows.md" "$stage/usr/share/doc/labeld/windows.md"
cat > "$stage/usr/share/doc/labeld/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: labeld

Files: *
Copyright: the labeld authors
License: MIT OR Apache-2.0
COPYRIGHT

mkdir -p "$stage/DEBIAN"
for script in postinst prerm postrm; do
    install -m 0755 "$here/debian/$script" "$stage/DEBIAN/$script"
done
echo "/etc/labeld/labeld.toml" > "$stage/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: labeld
Version: $version
Architecture: $arch
Maintainer: labeld authors <labeld@localhost>
Installed-Size: $size
Depends: adduser, libc6 (>= 2.35), libgcc-s1, zlib1g
Recommends: fonts-dejavu-core, fonts-thai-tlwg, fonts-noto-cjk
Section: utils
Priority: optional
Description: label printing daemon for e-commerce warehouses
 Renders 100x150 mm shipping labels from orders and drives thermal printers
 (ZPL, EPL, TSPL, CPCL, ESC/POS) over USB, serial and TCP, with a durable
 spool so no label is lost or printed twice.
CONTROL

mkdir -p "$out"
deb="$out/labeld_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Z"$compress" --build "$stage" "$deb" >/dev/null
echo "$deb"
