#!/usr/bin/env bash
# Record each guest's reference behaviour from QEMU: the bytes on stdout (COM1 and the 0xE9
# debug console, merged in order through one mux chardev) into guests/<name>/expected.stdout
# and the exit status into guests/<name>/expected.status. test/guests/bare.test.ts holds
# `lkvm run --bare` to them byte for byte.
#
# QEMU: qemu-system-i386 (Debian's qemu-system-x86 7.2), TCG, CPU model pentium3 (P6:
# CMOV, PSE, PGE; no feature the guests use that the lkvm CPU lacks), 32 MiB of RAM.
#   -display none -nodefaults   no VGA, no default serial/monitor; -nographic is NOT used:
#                               it makes SeaBIOS copy its screen to the serial port
#                               (etc/sercon-port), which would put SeaBIOS's banner on stdout
#   -no-reboot                  a triple fault ends QEMU (exit status 0) instead of a reset
#   -chardev stdio,mux=on       one stdio stream that both COM1 and isa-debugcon write
#   -device isa-debug-exit      a write of v to port 0xf4 ends QEMU with status (v << 1) | 1
# Multiboot guests (<name>/<name>.elf) boot with -kernel (through SeaBIOS and QEMU's
# multiboot option ROM); firmware guests (<name>/<name>.rom) replace the BIOS with -bios.
# A guest's optional <name>/cmdline file is passed with -append.
#
# Usage: scripts/record-qemu.sh [guest...]    (default: every guest with an .elf or .rom)
set -euo pipefail
cd "$(dirname "$0")/../guests"
QEMU="${QEMU:-qemu-system-i386}"
if ! command -v "$QEMU" > /dev/null; then
	echo "record-qemu: $QEMU not found (Debian: apt-get install qemu-system-x86)" >&2
	exit 2
fi
QEMU_OPTS=(-accel tcg -cpu pentium3 -m 32 -display none -nodefaults -no-reboot
	-chardev stdio,id=out,mux=on -serial chardev:out
	-device isa-debugcon,iobase=0xe9,chardev=out
	-device isa-debug-exit,iobase=0xf4,iosize=0x04)

"$QEMU" --version | head -1 > qemu-version.txt
guests=("$@")
if [ ${#guests[@]} -eq 0 ]; then
	for d in */; do
		d="${d%/}"
		if [ -f "$d/$d.elf" ] || [ -f "$d/$d.rom" ]; then guests+=("$d"); fi
	done
fi

for g in "${guests[@]}"; do
	if [ -f "$g/$g.elf" ]; then boot=(-kernel "$g/$g.elf")
	elif [ -f "$g/$g.rom" ]; then boot=(-bios "$g/$g.rom")
	else echo "record-qemu: no $g/$g.elf or $g/$g.rom (run guests/build.sh)" >&2; exit 1; fi
	append=()
	if [ -f "$g/cmdline" ]; then append=(-append "$(cat "$g/cmdline")"); fi
	status=0
	timeout 120 "$QEMU" "${QEMU_OPTS[@]}" "${boot[@]}" "${append[@]}" < /dev/null > "$g/expected.stdout" 2> "/tmp/record-qemu.$g.stderr" || status=$?
	if [ "$status" -eq 124 ]; then
		echo "record-qemu: $g did not finish in 120 s" >&2
		exit 1
	fi
	echo "$status" > "$g/expected.status"
	echo "$g: status $status, $(stat -c %s "$g/expected.stdout") bytes"
done
