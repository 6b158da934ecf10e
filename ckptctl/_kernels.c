/* ckptctl._kernels: the per-byte work of reading a large value, in C, without the GIL.
 *
 * crc32c           the CRC-32C (Castagnoli) of a buffer, continuing from a crc; the same
 *                  values as google_crc32c.extend. SSE4.2's crc32 instruction on three
 *                  interleaved runs where the CPU has it, a table (slicing by 8) elsewhere.
 * crc32c_combine   the crc32c of A + B from the crc32c of A, that of B and B's length, so
 *                  that the chunks of one value can be checksummed on several threads.
 * f32_stats        one pass over a float32 chunk: element count, min, max, zeros, elements
 *                  that are not finite, and the sum and sum of squares of (x - centre).
 * same_bytes       whether two buffers hold the same bytes (memcmp): a chunk read from a
 *                  file against the same bytes of a restored variable.
 *
 * Each releases the GIL while it reads the buffer, so that two threads checksum, reduce or
 * compare the chunks of one value at once. Buffers are taken through the buffer protocol (C
 * contiguous) and held for the call, so their memory cannot be freed or resized under it.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_SSE42_PATH 1
#include <nmmintrin.h>
#else
#define HAVE_SSE42_PATH 0
#endif

#define POLY 0x82f63b78u /* CRC-32C, bit-reflected */
#define GIL_FREE_BYTES (64 * 1024) /* below this, releasing the GIL costs more than it gives */

static uint32_t table[8][256];
static uint32_t x2n_table[32]; /* x^(2^k) modulo the polynomial, k = 0..31 */
static int have_sse42, have_avx2; /* what this CPU runs, found at import */

/* a * b modulo the polynomial, both in reflected bit order (zlib's multmodp). */
static uint32_t
multmodp(uint32_t a, uint32_t b)
{
    uint32_t m = (uint32_t)1 << 31, p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0) {
                break;
            }
        }
        m >>= 1;
        b = b & 1 ? (b >> 1) ^ POLY : b >> 1;
    }
    return p;
}

/* x^(n * 2^k) modulo the polynomial. */
static uint32_t
x2nmodp(uint64_t n, unsigned k)
{
    uint32_t p = (uint32_t)1 << 31; /* x^0 */
    while (n) {
        if (n & 1) {
            p = multmodp(x2n_table[k & 31], p);
        }
        n >>= 1;
        k++;
    }
    return p;
}

static void
init_tables(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int j = 0; j < 8; j++) {
            c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
        }
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        for (int t = 1; t < 8; t++) {
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
        }
    }
    uint32_t p = (uint32_t)1 << 30; /* x^1 */
    x2n_table[0] = p;
    for (int k = 1; k < 32; k++) {
        x2n_table[k] = p = multmodp(p, p);
    }
#if HAVE_SSE42_PATH
    __builtin_cpu_init();
    have_sse42 = __builtin_cpu_supports("sse4.2") != 0;
    have_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
}

/* The register after ``n`` bytes, from register ``crc`` (no inversions). */
static uint32_t
crc_table(uint32_t crc, const unsigned char *p, size_t n)
{
    while (n >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
              table[4][lo >> 24] ^ table[3][p[4]] ^ table[2][p[5]] ^ table[1][p[6]] ^
              table[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n--) {
        crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    }
    return crc;
}

#if HAVE_SSE42_PATH
#define LANE_MIN 4096 /* bytes per run before three runs pay for their combination */

__attribute__((target("sse4.2"))) static uint32_t
crc_sse42(uint32_t crc, const unsigned char *p, size_t n)
{
    uint64_t c0 = crc;
    if (n >= 3 * LANE_MIN) {
        /* Three independent runs keep the instruction's pipeline full (its latency is three
         * times its throughput); their registers are then combined in order. */
        size_t lane = (n / 3) & ~(size_t)7;
        const unsigned char *p1 = p + lane, *p2 = p + 2 * lane;
        uint64_t c1 = 0, c2 = 0;
        for (size_t i = 0; i < lane; i += 8) {
            uint64_t a, b, c;
            memcpy(&a, p + i, 8);
            memcpy(&b, p1 + i, 8);
            memcpy(&c, p2 + i, 8);
            c0 = _mm_crc32_u64(c0, a);
            c1 = _mm_crc32_u64(c1, b);
            c2 = _mm_crc32_u64(c2, c);
        }
        uint32_t shift = x2nmodp(lane, 3);
        c0 = multmodp(shift, (uint32_t)c0) ^ (uint32_t)c1;
        c0 = multmodp(shift, (uint32_t)c0) ^ (uint32_t)c2;
        p += 3 * lane;
        n -= 3 * lane;
    }
    while (n >= 8) {
        uint64_t a;
        memcpy(&a, p, 8);
        c0 = _mm_crc32_u64(c0, a);
        p += 8;
        n -= 8;
    }
    while (n--) {
        c0 = _mm_crc32_u8((uint32_t)c0, *p++);
    }
    return (uint32_t)c0;
}
#endif

static uint32_t
crc32c_extend(uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
#if HAVE_SSE42_PATH
    if (have_sse42) {
        return ~crc_sse42(crc, p, n);
    }
#endif
    return ~crc_table(crc, p, n);
}

static int
get_buffer(PyObject *obj, Py_buffer *view)
{
    return PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS);
}

static PyObject *
crc32c(PyObject *self, PyObject *args)
{
    PyObject *data;
    unsigned long crc = 0;
    if (!PyArg_ParseTuple(args, "O|k:crc32c", &data, &crc)) {
        return NULL;
    }
    if (crc > 0xffffffffUL) {
        PyErr_SetString(PyExc_ValueError, "crc32c: crc must fit 32 bits");
        return NULL;
    }
    Py_buffer view;
    if (get_buffer(data, &view) < 0) {
        return NULL;
    }
    uint32_t out;
    if (view.len >= GIL_FREE_BYTES) {
        Py_BEGIN_ALLOW_THREADS;
        out = crc32c_extend((uint32_t)crc, view.buf, (size_t)view.len);
        Py_END_ALLOW_THREADS;
    }
    else {
        out = crc32c_extend((uint32_t)crc, view.buf, (size_t)view.len);
    }
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLong(out);
}

/* The table path alone, whatever the CPU: what machines without SSE4.2 run (for tests). */
static PyObject *
crc32c_table(PyObject *self, PyObject *args)
{
    PyObject *data;
    unsigned long crc = 0;
    if (!PyArg_ParseTuple(args, "O|k:crc32c_table", &data, &crc)) {
        return NULL;
    }
    if (crc > 0xffffffffUL) {
        PyErr_SetString(PyExc_ValueError, "crc32c_table: crc must fit 32 bits");
        return NULL;
    }
    Py_buffer view;
    if (get_buffer(data, &view) < 0) {
        return NULL;
    }
    uint32_t out = ~crc_table(~(uint32_t)crc, view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLong(out);
}

static PyObject *
crc32c_combine(PyObject *self, PyObject *args)
{
    unsigned long first, second;
    unsigned long long length;
    if (!PyArg_ParseTuple(args, "kkK:crc32c_combine", &first, &second, &length)) {
        return NULL;
    }
    if (first > 0xffffffffUL || second > 0xffffffffUL) {
        PyErr_SetString(PyExc_ValueError, "crc32c_combine: crcs must fit 32 bits");
        return NULL;
    }
    uint32_t out = multmodp(x2nmodp(length, 3), (uint32_t)first) ^ (uint32_t)second;
    return PyLong_FromUnsignedLong(out);
}

#define BLOCK 1024 /* elements summed in float32 lanes before the sums go into doubles */

typedef struct {
    float lo, hi;
    Py_ssize_t zeros;
    double total, squares;
} f32_result;

/* Elements x[0:n] one at a time, into r (the tail of a chunk, or the whole of it where there
 * are no vector instructions); sums in float32, then added to r's doubles. */
static void
f32_scalar(const float *x, Py_ssize_t n, float centre, f32_result *r)
{
    float s = 0.0f, q = 0.0f;
    for (Py_ssize_t i = 0; i < n; i++) {
        float e = x[i];
        float d = e - centre;
        r->lo = e < r->lo ? e : r->lo;
        r->hi = e > r->hi ? e : r->hi;
        r->zeros += e == 0.0f;
        s += d;
        q += d * d;
        if (i % BLOCK == BLOCK - 1) {
            r->total += s;
            r->squares += q;
            s = q = 0.0f;
        }
    }
    r->total += s;
    r->squares += q;
}

#if HAVE_SSE42_PATH
#include <immintrin.h>

/* The blocks of BLOCK elements, in 2 x 8 float32 lanes (AVX2, FMA); returns the elements
 * done. Each block's lane sums go into r's doubles; the lanes' zero counts every 256 blocks
 * (at most 256 * BLOCK / 16 each, far from wrapping). An element that is not finite makes
 * the sums so; min and max then mean nothing (the caller reads such chunks otherwise). */
__attribute__((target("avx2,fma"))) static Py_ssize_t
f32_avx2(const float *x, Py_ssize_t n, float centre, f32_result *r)
{
    Py_ssize_t blocks = n / BLOCK;
    if (!blocks) {
        return 0;
    }
    const __m256 c = _mm256_set1_ps(centre);
    const __m256 zero = _mm256_setzero_ps();
    __m256 lo0 = _mm256_set1_ps(x[0]), lo1 = lo0, hi0 = lo0, hi1 = lo0;
    __m256i z0 = _mm256_setzero_si256(), z1 = z0;
    for (Py_ssize_t b = 0; b < blocks; b++) {
        const float *v = x + b * BLOCK;
        __m256 s0 = zero, s1 = zero, q0 = zero, q1 = zero;
        for (int i = 0; i < BLOCK; i += 16) {
            __m256 e0 = _mm256_loadu_ps(v + i), e1 = _mm256_loadu_ps(v + i + 8);
            lo0 = _mm256_min_ps(e0, lo0); /* e < lo ? e : lo */
            lo1 = _mm256_min_ps(e1, lo1);
            hi0 = _mm256_max_ps(e0, hi0);
            hi1 = _mm256_max_ps(e1, hi1);
            /* a compare's mask is all ones (-1) where true: subtracting it counts */
            z0 = _mm256_sub_epi32(z0, _mm256_castps_si256(_mm256_cmp_ps(e0, zero, _CMP_EQ_OQ)));
            z1 = _mm256_sub_epi32(z1, _mm256_castps_si256(_mm256_cmp_ps(e1, zero, _CMP_EQ_OQ)));
            __m256 d0 = _mm256_sub_ps(e0, c), d1 = _mm256_sub_ps(e1, c);
            s0 = _mm256_add_ps(s0, d0);
            s1 = _mm256_add_ps(s1, d1);
            q0 = _mm256_fmadd_ps(d0, d0, q0);
            q1 = _mm256_fmadd_ps(d1, d1, q1);
        }
        float sl[8], ql[8];
        _mm256_storeu_ps(sl, _mm256_add_ps(s0, s1));
        _mm256_storeu_ps(ql, _mm256_add_ps(q0, q1));
        double st = 0.0, qt = 0.0;
        for (int j = 0; j < 8; j++) {
            st += sl[j];
            qt += ql[j];
        }
        r->total += st;
        r->squares += qt;
        if (b % 256 == 255 || b == blocks - 1) {
            int32_t zl[8];
            _mm256_storeu_si256((__m256i *)zl, _mm256_add_epi32(z0, z1));
            for (int j = 0; j < 8; j++) {
                r->zeros += zl[j];
            }
            z0 = z1 = _mm256_setzero_si256();
        }
    }
    float lo[8], hi[8];
    _mm256_storeu_ps(lo, _mm256_min_ps(lo0, lo1));
    _mm256_storeu_ps(hi, _mm256_max_ps(hi0, hi1));
    for (int j = 0; j < 8; j++) {
        r->lo = lo[j] < r->lo ? lo[j] : r->lo;
        r->hi = hi[j] > r->hi ? hi[j] : r->hi;
    }
    return blocks * BLOCK;
}
#endif

static void
f32_reduce(const float *x, Py_ssize_t n, float centre, f32_result *r)
{
    r->lo = INFINITY;
    r->hi = -INFINITY;
    r->zeros = 0;
    r->total = r->squares = 0.0;
    Py_ssize_t done = 0;
#if HAVE_SSE42_PATH
    if (have_avx2) {
        done = f32_avx2(x, n, centre, r);
    }
#endif
    f32_scalar(x + done, n - done, centre, r);
}

/* The buffer protocol's format of a float32 in this machine's byte order. */
static int
native_float32(const char *format)
{
    if (format == NULL) {
        return 0;
    }
#if PY_LITTLE_ENDIAN
    if (format[0] == '<') {
        format++;
    }
#else
    if (format[0] == '>') {
        format++;
    }
#endif
    if (format[0] == '=' || format[0] == '@') {
        format++;
    }
    return strcmp(format, "f") == 0;
}

static PyObject *
f32_stats(PyObject *self, PyObject *args)
{
    PyObject *data;
    float centre = 0.0f;
    if (!PyArg_ParseTuple(args, "O|f:f32_stats", &data, &centre)) {
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        return NULL;
    }
    if (view.itemsize != 4 || !native_float32(view.format)) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_TypeError, "f32_stats: a contiguous float32 buffer is needed");
        return NULL;
    }
    Py_ssize_t n = view.len / 4;
    f32_result r;
    if (view.len >= GIL_FREE_BYTES) {
        Py_BEGIN_ALLOW_THREADS;
        f32_reduce(view.buf, n, centre, &r);
        Py_END_ALLOW_THREADS;
    }
    else {
        f32_reduce(view.buf, n, centre, &r);
    }
    PyBuffer_Release(&view);
    return Py_BuildValue("(nddndd)", n, (double)r.lo, (double)r.hi, r.zeros, r.total, r.squares);
}

static PyObject *
same_bytes(PyObject *self, PyObject *args)
{
    PyObject *a, *b;
    if (!PyArg_ParseTuple(args, "OO:same_bytes", &a, &b)) {
        return NULL;
    }
    Py_buffer va, vb;
    if (get_buffer(a, &va) < 0) {
        return NULL;
    }
    if (get_buffer(b, &vb) < 0) {
        PyBuffer_Release(&va);
        return NULL;
    }
    int same = va.len == vb.len;
    if (same && va.len > 0) {
        if (va.len >= GIL_FREE_BYTES) {
            Py_BEGIN_ALLOW_THREADS;
            same = memcmp(va.buf, vb.buf, (size_t)va.len) == 0;
            Py_END_ALLOW_THREADS;
        }
        else {
            same = memcmp(va.buf, vb.buf, (size_t)va.len) == 0;
        }
    }
    PyBuffer_Release(&va);
    PyBuffer_Release(&vb);
    return PyBool_FromLong(same);
}

static PyMethodDef methods[] = {
    {"crc32c", crc32c, METH_VARARGS,
     "crc32c(data, crc=0) -> int: the CRC-32C of data, continuing from crc"},
    {"crc32c_table", crc32c_table, METH_VARARGS,
     "crc32c_table(data, crc=0) -> int: crc32c through the table, as CPUs without SSE4.2 do"},
    {"crc32c_combine", crc32c_combine, METH_VARARGS,
     "crc32c_combine(crc_a, crc_b, length_b) -> int: the CRC-32C of A + B"},
    {"f32_stats", f32_stats, METH_VARARGS,
     "f32_stats(data, centre=0.0) -> (n, min, max, zeros, sum, squares), the sums over "
     "(x - centre); where an element is not finite, so are the sums, and min and max mean "
     "nothing"},
    {"same_bytes", same_bytes, METH_VARARGS,
     "same_bytes(a, b) -> bool: whether the two buffers hold the same bytes"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "ckptctl._kernels",
    "Checksums, float32 statistics and comparisons of large buffers, without the GIL "
    "(see _kernels.c).",
    -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__kernels(void)
{
    init_tables();
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && (PyModule_AddIntConstant(m, "HARDWARE_CRC32C", have_sse42) < 0 ||
                      PyModule_AddIntConstant(m, "VECTOR_STATS", have_avx2) < 0)) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
