#!/usr/bin/env bash
# Build the guests from source. The built binaries are committed, so neither CI nor
# users need a toolchain; this script needs GNU as and ld (binutils) and, for the C
# guests, gcc that can target i386 (-m32; on Debian the multilib is not needed, as the
# guests bring their own 64-bit division in lib/divdi3.c instead of libgcc).
set -euo pipefail
cd "$(dirname "$0")"

# hello-real: flat real-mode image linked to run at 0x1000.
as --32 -o hello-real/hello.o hello-real/hello.S
ld -m elf_i386 -Ttext=0x1000 --oformat=binary -o hello-real/hello.bin hello-real/hello.o
rm -f hello-real/hello.o
echo "built hello-real/hello.bin ($(stat -c %s hello-real/hello.bin) bytes)"

# spin: flat real-mode image at 0x1000 (docs/port/2007-snapshot.md).
as --32 -o spin/spin.o spin/spin.S
ld -m elf_i386 -Ttext=0x1000 --oformat=binary -o spin/spin.bin spin/spin.o
rm -f spin/spin.o
echo "built spin/spin.bin ($(stat -c %s spin/spin.bin) bytes)"

# Multiboot v1 ELF kernels: gcc -m32 freestanding, linked at 1 MiB by lib/multiboot.ld.
# -mgeneral-regs-only: the CPU model has no x87 or SSE. -O2 gives the code a compiler
# really emits (cmov, setcc, lea arithmetic, tail calls).
CFLAGS=(-m32 -march=i686 -O2 -ffreestanding -fno-pic -fno-pie -fno-stack-protector -fno-builtin
	-fno-asynchronous-unwind-tables -fno-delete-null-pointer-checks -mgeneral-regs-only -fcf-protection=none -Wall -Wextra -Werror -std=gnu11)
LIB=(lib/entry.S lib/rt.c lib/setjmp.S lib/idt.c lib/isr.S lib/user.c lib/divdi3.c)

build_kernel() {
	local name="$1"; shift
	local tmp; tmp="$(mktemp -d)"
	local objs=()
	for src in "${LIB[@]}" "$@"; do
		local obj="$tmp/$(echo "$src" | tr / _).o"
		gcc "${CFLAGS[@]}" ${EXTRA_CFLAGS:-} -c -o "$obj" "$src"
		objs+=("$obj")
	done
	ld -m elf_i386 -nostdlib -T lib/multiboot.ld --build-id=none -z noexecstack --no-warn-rwx-segments -o "$name/$name.elf" "${objs[@]}"
	rm -rf "$tmp"
	echo "built $name/$name.elf ($(stat -c %s "$name/$name.elf") bytes)"
}

for g in mbinfo recursion sieve crc32 sort divmul exceptions cr3switch isa pit debugregs; do build_kernel "$g" "$g/$g.c"; done
# The paged guests share their page-fault tests (lib/pagetest.c).
for g in paging pae; do build_kernel "$g" "$g/$g.c" lib/pagetest.c; done
build_kernel smc smc/smc.c smc/smc_asm.S
build_kernel triple-fault triple-fault/triple-fault.c
EXTRA_CFLAGS=-fcf-protection=full build_kernel endbr endbr/endbr.c

# bios-real: a 64 KiB firmware image, linked at offset 0 of segment F000.
as --32 -o bios-real/bios.o bios-real/bios.S
ld -m elf_i386 -Ttext=0 --oformat=binary -o bios-real/bios-real.rom bios-real/bios.o
rm -f bios-real/bios.o
echo "built bios-real/bios-real.rom ($(stat -c %s bios-real/bios-real.rom) bytes)"
