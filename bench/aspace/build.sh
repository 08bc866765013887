#!/usr/bin/env bash
# Build the bench guest from source (the binary is committed; this needs GNU as and ld).
set -euo pipefail
cd "$(dirname "$0")"
as --32 -o aspace.o aspace.S
ld -m elf_i386 -Ttext=0x1000 --oformat=binary -o aspace.bin aspace.o
rm -f aspace.o
echo "built aspace.bin ($(stat -c %s aspace.bin) bytes)"
