/*
 * sort: quicksort (recursive, median of three), heapsort, merge sort (top-down with a
 * buffer), insertion sort and a generic qsort with a comparison function pointer, on
 * xorshift data with duplicates and negative numbers, and on strings; checks order and
 * prints position-weighted checksums.
 */
#include "../lib/rt.h"

#define N 30000
static s32 src[N], a[N], tmp[N];

static void quicksort(s32 *v, int lo, int hi)
{
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (v[mid] < v[lo]) { s32 t = v[mid]; v[mid] = v[lo]; v[lo] = t; }
		if (v[hi] < v[lo]) { s32 t = v[hi]; v[hi] = v[lo]; v[lo] = t; }
		if (v[hi] < v[mid]) { s32 t = v[hi]; v[hi] = v[mid]; v[mid] = t; }
		s32 pivot = v[mid];
		int i = lo, j = hi;
		while (i <= j) {
			while (v[i] < pivot) i++;
			while (v[j] > pivot) j--;
			if (i <= j) { s32 t = v[i]; v[i] = v[j]; v[j] = t; i++; j--; }
		}
		/* recurse into the smaller part, loop on the larger */
		if (j - lo < hi - i) { quicksort(v, lo, j); lo = i; }
		else { quicksort(v, i, hi); hi = j; }
	}
}

static void sift(s32 *v, int root, int n)
{
	for (;;) {
		int child = 2 * root + 1;
		if (child >= n)
			return;
		if (child + 1 < n && v[child + 1] > v[child])
			child++;
		if (v[root] >= v[child])
			return;
		s32 t = v[root]; v[root] = v[child]; v[child] = t;
		root = child;
	}
}

static void heapsort(s32 *v, int n)
{
	for (int i = n / 2 - 1; i >= 0; i--)
		sift(v, i, n);
	for (int end = n - 1; end > 0; end--) {
		s32 t = v[0]; v[0] = v[end]; v[end] = t;
		sift(v, 0, end);
	}
}

static void mergesort(s32 *v, s32 *buf, int n)
{
	if (n < 2)
		return;
	int h = n / 2;
	mergesort(v, buf, h);
	mergesort(v + h, buf, n - h);
	int i = 0, j = h, k = 0;
	while (i < h && j < n)
		buf[k++] = v[j] < v[i] ? v[j++] : v[i++];
	while (i < h) buf[k++] = v[i++];
	while (j < n) buf[k++] = v[j++];
	memcpy(v, buf, (size_t)n * sizeof(s32));
}

static void insertion(s32 *v, int n)
{
	for (int i = 1; i < n; i++) {
		s32 x = v[i];
		int j = i - 1;
		while (j >= 0 && v[j] > x) { v[j + 1] = v[j]; j--; }
		v[j + 1] = x;
	}
}

typedef int (*cmp_fn)(const void *, const void *);
/* A byte-wise generic sort (shell sort with Ciura's gaps) through a comparison callback. */
static void gsort(void *base, int n, size_t size, cmp_fn cmp)
{
	static const int gaps[] = { 701, 301, 132, 57, 23, 10, 4, 1 };
	u8 *b = base;
	u8 t[64];
	for (unsigned g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
		int gap = gaps[g];
		for (int i = gap; i < n; i++) {
			memcpy(t, b + (size_t)i * size, size);
			int j = i;
			for (; j >= gap && cmp(b + (size_t)(j - gap) * size, t) > 0; j -= gap)
				memcpy(b + (size_t)j * size, b + (size_t)(j - gap) * size, size);
			memcpy(b + (size_t)j * size, t, size);
		}
	}
}

static int cmp_desc(const void *x, const void *y)
{
	s32 a = *(const s32 *)x, b = *(const s32 *)y;
	return (a < b) - (a > b);
}

static int cmp_str(const void *x, const void *y)
{
	const char *a = *(const char *const *)x, *b = *(const char *const *)y;
	while (*a && *a == *b) { a++; b++; }
	return (u8)*a - (u8)*b;
}

static u32 checksum(const s32 *v, int n)
{
	u32 h = 0;
	for (int i = 0; i < n; i++)
		h = h * 1000003u + (u32)v[i] * (u32)(i + 1);
	return h;
}

static int sorted(const s32 *v, int n)
{
	for (int i = 1; i < n; i++)
		if (v[i - 1] > v[i])
			return 0;
	return 1;
}

static void report(const char *name, int n)
{
	printf("%s: n=%d sorted=%d min=%d median=%d max=%d checksum=%08x\n", name, n, sorted(a, n), a[0], a[n / 2], a[n - 1], checksum(a, n));
}

int kmain(u32 magic, const struct multiboot_info *mbi);
int kmain(u32 magic, const struct multiboot_info *mbi)
{
	(void)magic; (void)mbi;
	serial_init();
	u32 seed = 2463534242u;
	for (int i = 0; i < N; i++)
		src[i] = (s32)(rand32(&seed) % 200001) - 100000;
	memcpy(a, src, sizeof(a)); quicksort(a, 0, N - 1); report("quicksort", N);
	u32 ref = checksum(a, N);
	memcpy(a, src, sizeof(a)); heapsort(a, N); report("heapsort", N);
	int ok = checksum(a, N) == ref;
	memcpy(a, src, sizeof(a)); mergesort(a, tmp, N); report("mergesort", N);
	ok &= checksum(a, N) == ref;
	memcpy(a, src, 3000 * sizeof(s32)); insertion(a, 3000); report("insertion", 3000);
	memcpy(a, src, 5000 * sizeof(s32)); gsort(a, 5000, sizeof(s32), cmp_desc);
	printf("shellsort descending: first=%d last=%d checksum=%08x\n", a[0], a[4999], checksum(a, 5000));
	/* already sorted and reversed inputs */
	for (int i = 0; i < N; i++) a[i] = N - i;
	quicksort(a, 0, N - 1); report("quicksort reversed", N);
	const char *words[] = { "virtualization", "kvm", "freebsd", "linux", "vmcs", "shadow", "page", "table",
				"hypervisor", "guest", "host", "ioctl", "compat", "shim", "vcpu", "exit", "entry", "kernel" };
	int nw = (int)(sizeof(words) / sizeof(words[0]));
	gsort(words, nw, sizeof(words[0]), cmp_str);
	for (int i = 0; i < nw; i++)
		printf("%s%c", words[i], i + 1 < nw ? ' ' : '\n');
	return ok ? 0 : 1;
}
