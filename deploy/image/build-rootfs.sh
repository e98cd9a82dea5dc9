#!/usr/bin/env bash
# Builds the file tree that the Jib image (cli/pom.xml) adds on top of the empty `scratch` base, so that no base image
# has to be pulled from a registry: a Java runtime made by jlink from the JDK that runs the build, the few shared
# libraries of the build host that this runtime and the JNI libraries bundled in the migrator's dependencies (RocksDB
# for the Kafka Streams state stores, zstd, snappy, lz4) load, and the directories the migrator writes to.
# /etc (the user `migrator`, uid 65532) comes from deploy/image/rootfs/ next to this script.
#
#   deploy/image/build-rootfs.sh OUTPUT_DIR [JAVA_HOME]       (Maven runs it in cli's prepare-package phase)
#
# OUTPUT_DIR is emptied first. JAVA_HOME defaults to the JDK on PATH; it needs jlink and its jmods (Debian:
# openjdk-17-jdk-headless). Linux only: the runtime and the libraries are the build host's, for its architecture
# (amd64 or arm64), and must be glibc-based (Debian, Ubuntu, RHEL, ...; not Alpine).
set -euo pipefail

# The modules the migrator needs: what `jdeps --print-module-deps` finds in cli/target/migrator.jar, plus what is only
# loaded by name at run time: jdk.crypto.ec (TLS to PostgreSQL and Kafka), jdk.charsets, jdk.zipfs, jdk.naming.dns,
# java.net.http. jlink adds what these require (java.logging, java.management, java.xml, ...).
MODULES=java.base,java.compiler,java.desktop,java.instrument,java.naming,java.net.http,java.rmi,java.scripting,\
java.security.jgss,java.security.sasl,java.sql,jdk.attach,jdk.charsets,jdk.crypto.ec,jdk.httpserver,jdk.jdi,\
jdk.management,jdk.naming.dns,jdk.unsupported,jdk.zipfs
# Libraries the JNI code in the dependencies loads beyond what the runtime itself needs (ldd of the bundled
# librocksdbjni-linux64.so, libzstd-jni, libsnappyjava, liblz4-java).
JNI_LIBRARIES="libstdc++.so.6 libgcc_s.so.1 libm.so.6 libpthread.so.0 librt.so.1 libdl.so.2"
# java.desktop's native code for windows, fonts, sound and image formats: never used headless, and it would pull in
# X11, freetype, ALSA, ... (java.desktop itself stays: java.beans is used).
GUI_LIBRARIES="libawt_xawt.so libjawt.so libsplashscreen.so libjsound.so libfontmanager.so liblcms.so libjavajpeg.so"

out=${1:?usage: $0 OUTPUT_DIR [JAVA_HOME]}
java_home=${2:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}
[ "$(uname -s)" = Linux ] || { echo "$0: builds a Linux image from the build host's runtime; this host is $(uname -s)" >&2; exit 1; }
jlink="$java_home/bin/jlink"
[ -x "$jlink" ] || { echo "$0: no jlink in $java_home/bin (a JDK is needed, not a JRE)" >&2; exit 1; }
command -v ldd >/dev/null || { echo "$0: ldd not found (glibc's libc-bin)" >&2; exit 1; }

# Built next to OUTPUT_DIR and moved in place at the end, so that a failed or concurrent run never leaves half a tree.
final=$out
out=$(mktemp -d "$final.partial.XXXXXX")
trap 'rm -rf "$out"' EXIT
mkdir -p "$out/opt" "$out/tmp" "$out/var/lib/migrator"
"$jlink" --add-modules "$MODULES" --strip-debug --no-header-files --no-man-pages --output "$out/opt/java" || {
  echo "$0: jlink failed; it needs the JDK's jmods in $java_home/jmods (Debian: openjdk-17-jdk-headless has them)" >&2
  exit 1
}
for library in $GUI_LIBRARIES; do
  rm -f "$out/opt/java/lib/$library"
done

# Every shared library the runtime's executables and libraries need, found where ldd finds it on this host, copied
# (not linked) to the same path in the image; the dynamic loader too (the ELF interpreter, e.g.
# /lib64/ld-linux-x86-64.so.2). Without /etc/ld.so.cache the loader searches its built-in directories, which include
# the Debian multiarch ones (/lib/x86_64-linux-gnu, /lib/aarch64-linux-gnu) ldd reports.
declare -A needed=()
missing=()
while IFS= read -r -d '' file; do
  head -c 4 "$file" | grep -q 'ELF' || continue
  ldd_output=$(ldd "$file" 2>&1) || continue   # statically linked, or not loadable here
  while read -r name arrow path _; do
    if [ "$arrow" = "=>" ] && [ "$path" = "not" ]; then
      # Libraries of the runtime itself (libjvm.so, libjava.so, ...) are found through its own RUNPATH at run time.
      [ -n "$(find "$out/opt/java" -name "$name" -print -quit)" ] || missing+=("$name (for ${file#"$out"})")
    elif [ "$arrow" = "=>" ] && [ "${path#/}" != "$path" ]; then
      case "$path" in "$out"/*) ;; *) needed[$path]=1 ;; esac   # the runtime's own libraries are in place already
    elif [ "${name#/}" != "$name" ]; then
      needed[$name]=1   # the ELF interpreter: "/lib64/ld-linux-x86-64.so.2 (0x...)"
    fi
  done <<< "$ldd_output"
done < <(find "$out/opt/java" -type f \( -name '*.so' -o -perm -u+x \) -print0)
[ ${#missing[@]} -eq 0 ] || { printf '%s: not found on this host: %s\n' "$0" "${missing[@]}" >&2; exit 1; }
libc=$(printf '%s\n' "${!needed[@]}" | grep '/libc\.so\.6$' | head -n 1)
[ -n "$libc" ] || { echo "$0: the runtime does not link glibc's libc.so.6: not a glibc host?" >&2; exit 1; }
for library in $JNI_LIBRARIES; do
  [ -e "$(dirname "$libc")/$library" ] || { echo "$0: $(dirname "$libc")/$library not found (needed by the bundled JNI libraries)" >&2; exit 1; }
  needed[$(dirname "$libc")/$library]=1
done
for path in "${!needed[@]}"; do
  mkdir -p "$out$(dirname "$path")"
  cp -L "$path" "$out$path"
done

version=$("$out/opt/java/bin/java" -version 2>&1 | head -n 1)
size=$(du -sh "$out" | cut -f1)
rm -rf "$final"
mv "$out" "$final"
chmod 755 "$final"
echo "build-rootfs: $version, $size with ${#needed[@]} libraries of this host, in $final"
