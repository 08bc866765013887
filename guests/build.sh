#!/usr/bin/env bash
# Build the guests from source. The built binaries are committed, so neither CI nor
# users need a toolchain; this script needs GNU as and ld (binutils).
set -euo pipefail
cd "$(dirname "$0")"

# hello-real: flat real-mode image linked to run at 0x1000.
as --32 -o hello-real/hello.o hello-real/hello.S
ld -m elf_i386 -Ttext=0x1000 --oformat=binary -o hello-real/hello.bin hello-real/hello.o
rm -f hello-real/hello.o
echo "built hello-real/hello.bin ($(stat -c %s hello-real/hello.bin) bytes)"
