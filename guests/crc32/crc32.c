/*
 * crc32: CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) bit by bit and with a
 * 256-entry table built at run time, CRC-32C (Castagnoli), Adler-32 and FNV-1a, over the
 * check string "123456789" and over 256 KiB of xorshift data; the two CRC-32 forms must agree.
 */
#include "../lib/rt.h"

static u32 crc_table[256], crc32c_table[256];

static void make_table(u32 *t, u32 poly)
{
	for (u32 n = 0; n < 256; n++) {
		u32 c = n;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? poly ^ (c >> 1) : c >> 1;
		t[n] = c;
	}
}

static u32 crc_table_run(const u32 *t, const u8 *buf, size_t len)
{
	u32 c = 0xffffffff;
	while (len--)
		c = t[(c ^ *buf++) & 0xff] ^ (c >> 8);
	return ~c;
}

static u32 crc_bitwise(const u8 *buf, size_t len)
{
	u32 c = 0xffffffff;
	while (len--) {
		c ^= *buf++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320 & -(c & 1));
	}
	return ~c;
}

static u32 adler32(const u8 *buf, size_t len)
{
	u32 a = 1, b = 0;
	while (len--) {
		a = (a + *buf++) % 65521;
		b = (b + a) % 65521;
	}
	return (b << 16) | a;
}

static u32 fnv1a(const u8 *buf, size_t len)
{
	u32 h = 2166136261u;
	while (len--)
		h = (h ^ *buf++) * 16777619u;
	return h;
}

#define DATA 262144
static u8 data[DATA];

int kmain(u32 magic, const struct multiboot_info *mbi);
int kmain(u32 magic, const struct multiboot_info *mbi)
{
	(void)magic; (void)mbi;
	serial_init();
	make_table(crc_table, 0xedb88320);
	make_table(crc32c_table, 0x82f63b78);
	const u8 *check = (const u8 *)"123456789";
	u32 t = crc_table_run(crc_table, check, 9), b = crc_bitwise(check, 9);
	printf("crc32(\"123456789\") = %08x table, %08x bitwise (%s)\n", t, b, t == 0xcbf43926 && b == t ? "ok" : "BAD");
	printf("crc32c(\"123456789\") = %08x\n", crc_table_run(crc32c_table, check, 9));
	printf("adler32(\"123456789\") = %08x, fnv1a = %08x\n", adler32(check, 9), fnv1a(check, 9));
	u32 seed = 0x12345678;
	for (u32 i = 0; i < DATA; i += 4) {
		u32 r = rand32(&seed);
		memcpy(&data[i], &r, 4);
	}
	u32 ct = crc_table_run(crc_table, data, DATA);
	u32 cb = crc_bitwise(data, DATA);
	printf("256 KiB: crc32 %08x table, %08x bitwise (%s)\n", ct, cb, ct == cb ? "agree" : "DISAGREE");
	printf("256 KiB: crc32c %08x adler32 %08x fnv1a %08x\n", crc_table_run(crc32c_table, data, DATA), adler32(data, DATA), fnv1a(data, DATA));
	/* Appending the CRC (little endian) makes the CRC of the whole a constant residue. */
	u8 msg[13];
	memcpy(msg, check, 9);
	memcpy(msg + 9, &t, 4);
	printf("residue %08x\n", ~crc_table_run(crc_table, msg, 13));
	return ct == cb ? 0 : 1;
}
