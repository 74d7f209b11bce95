/*
 * Variable-time ristretto255 arithmetic for *public* data: proof verification and tallying.
 *
 * Why this exists: libsodium (which secure-vote uses for every operation involving a secret)
 * offers only constant-time single scalar multiplications on encoded points, and decodes and
 * re-encodes on every call. Verifying a proof needs linear combinations such as r*G - c*P of
 * public values only, where a variable-time multi-scalar multiplication (Straus, with
 * width-w non-adjacent forms) over decoded points is about twice as fast, and a tally needs
 * millions of additions that never need an encoding in between.
 *
 * Nothing here may ever see a secret: every branch and table index depends on its inputs.
 * The Python side (securevote/crypto/native.py) is the only caller, and the tests check every
 * function against libsodium on random inputs.
 *
 * Field: GF(2^255 - 19) in five 51-bit limbs. Curve: -x^2 + y^2 = 1 + d x^2 y^2 in extended
 * coordinates (X:Y:Z:T), x = X/Z, y = Y/Z, xy = T/Z. Encoding and decoding follow RFC 9496
 * sections 4.3.1 and 4.3.2.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SV_EXPORT __attribute__((visibility("default")))
#define MASK51 ((uint64_t)0x7ffffffffffffULL)

typedef unsigned __int128 u128;
typedef uint64_t fe[5];

/* Extended point, "completed" point ((X:Z),(Y:T)), and a cached addend (Y+X, Y-X, Z, 2dT). */
typedef struct { fe X, Y, Z, T; } ge;
typedef struct { fe X, Y, Z, T; } ge_completed;
typedef struct { fe YplusX, YminusX, Z, T2d; } ge_cached;

static const fe FE_ZERO = {0, 0, 0, 0, 0};
static const fe FE_ONE = {1, 0, 0, 0, 0};
/* d = -121665/121666 */
static const fe FE_D = {929955233495203ULL, 466365720129213ULL, 1662059464998953ULL,
                        2033849074728123ULL, 1442794654840575ULL};
/* 2d */
static const fe FE_D2 = {1859910466990425ULL, 932731440258426ULL, 1072319116312658ULL,
                         1815898335770999ULL, 633789495995903ULL};
/* sqrt(-1) = 2^((p-1)/4) */
static const fe FE_SQRTM1 = {1718705420411056ULL, 234908883556509ULL, 2233514472574048ULL,
                             2117202627021982ULL, 765476049583133ULL};

static const uint8_t BASE_ENCODING[32] = {
    0xe2, 0xf2, 0xae, 0x0a, 0x6a, 0xbc, 0x4e, 0x71, 0xa8, 0x84, 0xa9, 0x61, 0xc5, 0x00, 0x51, 0x5f,
    0x58, 0xe3, 0x0b, 0x6a, 0xa5, 0x82, 0xdd, 0x8d, 0xb6, 0xa6, 0x59, 0x45, 0xe0, 0x8d, 0x2d, 0x76};

/* ---- field ---------------------------------------------------------------------------- */

static inline void fe_copy(fe h, const fe f) { memcpy(h, f, sizeof(fe)); }

/* Weak reduction: every limb below 2^51 except limb 0, below 2^51 + 2^18. */
static inline void fe_carry(fe h) {
    uint64_t c;
    c = h[0] >> 51; h[0] &= MASK51; h[1] += c;
    c = h[1] >> 51; h[1] &= MASK51; h[2] += c;
    c = h[2] >> 51; h[2] &= MASK51; h[3] += c;
    c = h[3] >> 51; h[3] &= MASK51; h[4] += c;
    c = h[4] >> 51; h[4] &= MASK51; h[0] += 19 * c;
}

static inline void fe_add(fe h, const fe f, const fe g) {
    for (int i = 0; i < 5; i++) h[i] = f[i] + g[i];
    fe_carry(h);
}

/* f - g + 4p: 4p's limbs exceed any weakly reduced limb, so nothing underflows. */
static inline void fe_sub(fe h, const fe f, const fe g) {
    h[0] = f[0] + 0x1fffffffffffb4ULL - g[0];
    h[1] = f[1] + 0x1ffffffffffffcULL - g[1];
    h[2] = f[2] + 0x1ffffffffffffcULL - g[2];
    h[3] = f[3] + 0x1ffffffffffffcULL - g[3];
    h[4] = f[4] + 0x1ffffffffffffcULL - g[4];
    fe_carry(h);
}

static inline void fe_neg(fe h, const fe f) { fe_sub(h, FE_ZERO, f); }

static inline void fe_reduce_wide(fe h, u128 t0, u128 t1, u128 t2, u128 t3, u128 t4) {
    uint64_t r0, r1, r2, r3, r4, c;
    c = (uint64_t)(t0 >> 51); r0 = (uint64_t)t0 & MASK51; t1 += c;
    c = (uint64_t)(t1 >> 51); r1 = (uint64_t)t1 & MASK51; t2 += c;
    c = (uint64_t)(t2 >> 51); r2 = (uint64_t)t2 & MASK51; t3 += c;
    c = (uint64_t)(t3 >> 51); r3 = (uint64_t)t3 & MASK51; t4 += c;
    c = (uint64_t)(t4 >> 51); r4 = (uint64_t)t4 & MASK51;
    r0 += c * 19;
    c = r0 >> 51; r0 &= MASK51; r1 += c;
    h[0] = r0; h[1] = r1; h[2] = r2; h[3] = r3; h[4] = r4;
}

static void fe_mul(fe h, const fe f, const fe g) {
    const uint64_t f0 = f[0], f1 = f[1], f2 = f[2], f3 = f[3], f4 = f[4];
    const uint64_t g0 = g[0], g1 = g[1], g2 = g[2], g3 = g[3], g4 = g[4];
    const uint64_t g1_19 = 19 * g1, g2_19 = 19 * g2, g3_19 = 19 * g3, g4_19 = 19 * g4;
    u128 t0 = (u128)f0 * g0 + (u128)f1 * g4_19 + (u128)f2 * g3_19 + (u128)f3 * g2_19 +
              (u128)f4 * g1_19;
    u128 t1 = (u128)f0 * g1 + (u128)f1 * g0 + (u128)f2 * g4_19 + (u128)f3 * g3_19 +
              (u128)f4 * g2_19;
    u128 t2 = (u128)f0 * g2 + (u128)f1 * g1 + (u128)f2 * g0 + (u128)f3 * g4_19 +
              (u128)f4 * g3_19;
    u128 t3 = (u128)f0 * g3 + (u128)f1 * g2 + (u128)f2 * g1 + (u128)f3 * g0 +
              (u128)f4 * g4_19;
    u128 t4 = (u128)f0 * g4 + (u128)f1 * g3 + (u128)f2 * g2 + (u128)f3 * g1 + (u128)f4 * g0;
    fe_reduce_wide(h, t0, t1, t2, t3, t4);
}

static void fe_sq(fe h, const fe f) {
    const uint64_t f0 = f[0], f1 = f[1], f2 = f[2], f3 = f[3], f4 = f[4];
    const uint64_t f0_2 = 2 * f0, f1_2 = 2 * f1;
    const uint64_t f3_19 = 19 * f3, f4_19 = 19 * f4, f3_38 = 38 * f3, f4_38 = 38 * f4;
    u128 t0 = (u128)f0 * f0 + (u128)f1 * f4_38 + (u128)f2 * f3_38;
    u128 t1 = (u128)f0_2 * f1 + (u128)f2 * f4_38 + (u128)f3 * f3_19;
    u128 t2 = (u128)f0_2 * f2 + (u128)f1 * f1 + (u128)f3 * f4_38;
    u128 t3 = (u128)f0_2 * f3 + (u128)f1_2 * f2 + (u128)f4 * f4_19;
    u128 t4 = (u128)f0_2 * f4 + (u128)f1_2 * f3 + (u128)f2 * f2;
    fe_reduce_wide(h, t0, t1, t2, t3, t4);
}

static void fe_sq_n(fe h, const fe f, int n) {
    fe_sq(h, f);
    for (int i = 1; i < n; i++) fe_sq(h, h);
}

static void fe_tobytes(uint8_t s[32], const fe f) {
    fe t;
    fe_copy(t, f);
    fe_carry(t);
    fe_carry(t);
    /* q = 1 exactly when t >= p, i.e. when t + 19 carries into bit 255 */
    uint64_t q = (t[0] + 19) >> 51;
    q = (t[1] + q) >> 51;
    q = (t[2] + q) >> 51;
    q = (t[3] + q) >> 51;
    q = (t[4] + q) >> 51;
    t[0] += 19 * q;
    uint64_t c;
    c = t[0] >> 51; t[0] &= MASK51; t[1] += c;
    c = t[1] >> 51; t[1] &= MASK51; t[2] += c;
    c = t[2] >> 51; t[2] &= MASK51; t[3] += c;
    c = t[3] >> 51; t[3] &= MASK51; t[4] += c;
    t[4] &= MASK51;
    const uint64_t w[4] = {t[0] | (t[1] << 51), (t[1] >> 13) | (t[2] << 38),
                           (t[2] >> 26) | (t[3] << 25), (t[3] >> 39) | (t[4] << 12)};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++) s[8 * i + j] = (uint8_t)(w[i] >> (8 * j));
}

/* Loads the low 255 bits; callers that need canonical input compare the re-encoding. */
static void fe_frombytes(fe h, const uint8_t s[32]) {
    uint64_t w[4] = {0, 0, 0, 0};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++) w[i] |= (uint64_t)s[8 * i + j] << (8 * j);
    h[0] = w[0] & MASK51;
    h[1] = ((w[0] >> 51) | (w[1] << 13)) & MASK51;
    h[2] = ((w[1] >> 38) | (w[2] << 26)) & MASK51;
    h[3] = ((w[2] >> 25) | (w[3] << 39)) & MASK51;
    h[4] = (w[3] >> 12) & MASK51;
}

static int fe_is_negative(const fe f) {
    uint8_t s[32];
    fe_tobytes(s, f);
    return s[0] & 1;
}

static int fe_is_zero(const fe f) {
    uint8_t s[32];
    fe_tobytes(s, f);
    uint8_t acc = 0;
    for (int i = 0; i < 32; i++) acc |= s[i];
    return acc == 0;
}

static int fe_equal(const fe f, const fe g) {
    uint8_t a[32], b[32];
    fe_tobytes(a, f);
    fe_tobytes(b, g);
    return memcmp(a, b, 32) == 0;
}

static void fe_abs(fe h, const fe f) {
    if (fe_is_negative(f)) fe_neg(h, f);
    else fe_copy(h, f);
}

/* z^(2^252 - 3) = z^((p-5)/8), through z^(2^250 - 1). */
static void fe_pow22523(fe out, const fe z) {
    fe z2, z9, z11, t, z_5_0, z_10_0, z_20_0, z_40_0, z_50_0, z_100_0, z_200_0, z_250_0;
    fe_sq(z2, z);              /* 2 */
    fe_sq_n(t, z2, 2);         /* 8 */
    fe_mul(z9, t, z);          /* 9 */
    fe_mul(z11, z9, z2);       /* 11 */
    fe_sq(t, z11);             /* 22 */
    fe_mul(z_5_0, t, z9);      /* 31 = 2^5 - 1 */
    fe_sq_n(t, z_5_0, 5);
    fe_mul(z_10_0, t, z_5_0);  /* 2^10 - 1 */
    fe_sq_n(t, z_10_0, 10);
    fe_mul(z_20_0, t, z_10_0); /* 2^20 - 1 */
    fe_sq_n(t, z_20_0, 20);
    fe_mul(z_40_0, t, z_20_0); /* 2^40 - 1 */
    fe_sq_n(t, z_40_0, 10);
    fe_mul(z_50_0, t, z_10_0); /* 2^50 - 1 */
    fe_sq_n(t, z_50_0, 50);
    fe_mul(z_100_0, t, z_50_0); /* 2^100 - 1 */
    fe_sq_n(t, z_100_0, 100);
    fe_mul(z_200_0, t, z_100_0); /* 2^200 - 1 */
    fe_sq_n(t, z_200_0, 50);
    fe_mul(z_250_0, t, z_50_0); /* 2^250 - 1 */
    fe_sq_n(t, z_250_0, 2);     /* 2^252 - 4 */
    fe_mul(out, t, z);          /* 2^252 - 3 */
}

/* RFC 9496 SQRT_RATIO_M1: r = |sqrt(u/v)| when u/v is square (returns 1), else
 * r = |sqrt(SQRT_M1 * u/v)| (returns 0). */
static int fe_sqrt_ratio_m1(fe r, const fe u, const fe v) {
    fe v3, v7, uv3, uv7, check, neg_u, neg_u_i, t;
    fe_sq(t, v);
    fe_mul(v3, t, v);
    fe_sq(t, v3);
    fe_mul(v7, t, v);
    fe_mul(uv3, u, v3);
    fe_mul(uv7, u, v7);
    fe_pow22523(t, uv7);
    fe_mul(r, uv3, t);
    fe_sq(t, r);
    fe_mul(check, v, t);
    fe_neg(neg_u, u);
    fe_mul(neg_u_i, neg_u, FE_SQRTM1);
    const int correct = fe_equal(check, u);
    const int flipped = fe_equal(check, neg_u);
    const int flipped_i = fe_equal(check, neg_u_i);
    if (flipped || flipped_i) {
        fe_mul(t, r, FE_SQRTM1);
        fe_copy(r, t);
    }
    fe_abs(r, r);
    return correct || flipped;
}

/* ---- group ---------------------------------------------------------------------------- */

static fe INVSQRT_A_MINUS_D; /* 1/sqrt(a - d), a = -1; set by sv_init() */

static void ge_identity(ge *p) {
    fe_copy(p->X, FE_ZERO);
    fe_copy(p->Y, FE_ONE);
    fe_copy(p->Z, FE_ONE);
    fe_copy(p->T, FE_ZERO);
}

/* RFC 9496 4.3.1. Returns 0 on success, -1 for a non-canonical or invalid encoding. */
static int ge_decode(ge *p, const uint8_t enc[32]) {
    fe s, ss, u1, u2, u2_sqr, v, t, invsqrt, den_x, den_y;
    uint8_t check[32];
    fe_frombytes(s, enc);
    fe_tobytes(check, s);
    if (memcmp(check, enc, 32) != 0 || (check[0] & 1)) return -1; /* s >= p, bit 255, or s < 0 */
    fe_sq(ss, s);
    fe_sub(u1, FE_ONE, ss);
    fe_add(u2, FE_ONE, ss);
    fe_sq(u2_sqr, u2);
    fe_sq(t, u1);
    fe_mul(v, FE_D, t);
    fe_neg(v, v);
    fe_sub(v, v, u2_sqr);
    fe_mul(t, v, u2_sqr);
    const int was_square = fe_sqrt_ratio_m1(invsqrt, FE_ONE, t);
    fe_mul(den_x, invsqrt, u2);
    fe_mul(t, invsqrt, den_x);
    fe_mul(den_y, t, v);
    fe_add(t, s, s);
    fe_mul(t, t, den_x);
    fe_abs(p->X, t);
    fe_mul(p->Y, u1, den_y);
    fe_copy(p->Z, FE_ONE);
    fe_mul(p->T, p->X, p->Y);
    if (!was_square || fe_is_negative(p->T) || fe_is_zero(p->Y)) return -1;
    return 0;
}

/* RFC 9496 4.3.2. */
static void ge_encode(uint8_t out[32], const ge *p) {
    fe u1, u2, t, invsqrt, den1, den2, z_inv, ix0, iy0, enchanted, x, y, den_inv;
    fe_add(t, p->Z, p->Y);
    fe_sub(u1, p->Z, p->Y);
    fe_mul(u1, t, u1);
    fe_mul(u2, p->X, p->Y);
    fe_sq(t, u2);
    fe_mul(t, u1, t);
    fe_sqrt_ratio_m1(invsqrt, FE_ONE, t);
    fe_mul(den1, invsqrt, u1);
    fe_mul(den2, invsqrt, u2);
    fe_mul(t, den1, den2);
    fe_mul(z_inv, t, p->T);
    fe_mul(ix0, p->X, FE_SQRTM1);
    fe_mul(iy0, p->Y, FE_SQRTM1);
    fe_mul(enchanted, den1, INVSQRT_A_MINUS_D);
    fe_mul(t, p->T, z_inv);
    if (fe_is_negative(t)) {
        fe_copy(x, iy0);
        fe_copy(y, ix0);
        fe_copy(den_inv, enchanted);
    } else {
        fe_copy(x, p->X);
        fe_copy(y, p->Y);
        fe_copy(den_inv, den2);
    }
    fe_mul(t, x, z_inv);
    if (fe_is_negative(t)) fe_neg(y, y);
    fe_sub(t, p->Z, y);
    fe_mul(t, den_inv, t);
    fe_abs(t, t);
    fe_tobytes(out, t);
}

static void ge_to_cached(ge_cached *c, const ge *p) {
    fe_add(c->YplusX, p->Y, p->X);
    fe_sub(c->YminusX, p->Y, p->X);
    fe_copy(c->Z, p->Z);
    fe_mul(c->T2d, p->T, FE_D2);
}

static void completed_to_ge(ge *r, const ge_completed *c) {
    fe_mul(r->X, c->X, c->T);
    fe_mul(r->Y, c->Y, c->Z);
    fe_mul(r->Z, c->Z, c->T);
    fe_mul(r->T, c->X, c->Y);
}

/* The projective part only (no T), enough for a following doubling. */
static void completed_to_projective(ge *r, const ge_completed *c) {
    fe_mul(r->X, c->X, c->T);
    fe_mul(r->Y, c->Y, c->Z);
    fe_mul(r->Z, c->Z, c->T);
}

/* p + q (or p - q when subtract), complete for a = -1 with d a non-square. */
static void ge_add_cached(ge_completed *r, const ge *p, const ge_cached *q, int subtract) {
    fe a, b, c, d, t;
    fe_sub(t, p->Y, p->X);
    fe_mul(a, t, subtract ? q->YplusX : q->YminusX);
    fe_add(t, p->Y, p->X);
    fe_mul(b, t, subtract ? q->YminusX : q->YplusX);
    fe_mul(c, p->T, q->T2d);
    fe_mul(d, p->Z, q->Z);
    fe_add(d, d, d);
    fe_sub(r->X, b, a);
    fe_add(r->Y, b, a);
    if (subtract) {
        fe_sub(r->Z, d, c);
        fe_add(r->T, d, c);
    } else {
        fe_add(r->Z, d, c);
        fe_sub(r->T, d, c);
    }
}

/* 2p from the projective part of p (X, Y, Z). */
static void ge_double(ge_completed *r, const ge *p) {
    fe xx, yy, b, a;
    fe_sq(xx, p->X);
    fe_sq(yy, p->Y);
    fe_sq(b, p->Z);
    fe_add(b, b, b);
    fe_add(a, p->X, p->Y);
    fe_sq(a, a);
    fe_add(r->Y, yy, xx);
    fe_sub(r->Z, yy, xx);
    fe_sub(r->X, a, r->Y);
    fe_sub(r->T, b, r->Z);
}

static void ge_add(ge *r, const ge *p, const ge *q) {
    ge_cached c;
    ge_completed t;
    ge_to_cached(&c, q);
    ge_add_cached(&t, p, &c, 0);
    completed_to_ge(r, &t);
}

/* ---- multi-scalar multiplication (Straus with width-w NAFs) ---------------------------- */

#define VAR_WIDTH 6                                /* odd multiples 1P..31P */
#define VAR_TABLE (1 << (VAR_WIDTH - 2))
#define BASE_WIDTH 8                               /* odd multiples 1G..127G, built once */
#define BASE_TABLE (1 << (BASE_WIDTH - 2))
#define MAX_POINTS 8

static ge_cached BASE_TABLE_CACHED[BASE_TABLE];

/* table[k] = (2k+1) p */
static void build_table(ge_cached *table, int size, const ge *p) {
    ge current = *p, twice;
    ge_completed t;
    ge_double(&t, p);
    completed_to_ge(&twice, &t);
    ge_cached twice_cached;
    ge_to_cached(&twice_cached, &twice);
    ge_to_cached(&table[0], &current);
    for (int k = 1; k < size; k++) {
        ge_add_cached(&t, &current, &twice_cached, 0);
        completed_to_ge(&current, &t);
        ge_to_cached(&table[k], &current);
    }
}

/* Width-w NAF of a scalar below 2^253: odd digits in (-2^(w-1), 2^(w-1)), at least w-1 zeros
 * after each non-zero digit. Returns 0, or -1 when the scalar is too large. */
static int scalar_naf(int8_t naf[256], const uint8_t scalar[32], int width) {
    if (scalar[31] > 0x1f) return -1;
    uint64_t x[5] = {0, 0, 0, 0, 0};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++) x[i] |= (uint64_t)scalar[8 * i + j] << (8 * j);
    memset(naf, 0, 256);
    const uint64_t window_size = (uint64_t)1 << width, mask = window_size - 1;
    uint64_t carry = 0;
    int pos = 0;
    while (pos < 256) {
        const int word = pos / 64, bit = pos % 64;
        uint64_t bits = x[word] >> bit;
        if (bit > 64 - width) bits |= x[word + 1] << (64 - bit);
        const uint64_t window = carry + (bits & mask);
        if ((window & 1) == 0) {
            pos += 1;
            continue;
        }
        if (window < window_size / 2) {
            carry = 0;
            naf[pos] = (int8_t)window;
        } else {
            carry = 1;
            naf[pos] = (int8_t)((int64_t)window - (int64_t)window_size);
        }
        pos += width;
    }
    return 0;
}

typedef struct {
    const ge_cached *table;
    int8_t naf[256];
} term;

static void straus(ge *result, term *terms, int count) {
    int top = -1;
    for (int k = 0; k < count; k++)
        for (int i = 255; i > top; i--)
            if (terms[k].naf[i]) { top = i; break; }
    ge r;
    ge_identity(&r);
    ge_completed t;
    for (int i = top; i >= 0; i--) {
        ge_double(&t, &r);
        for (int k = 0; k < count; k++) {
            const int digit = terms[k].naf[i];
            if (!digit) continue;
            completed_to_ge(&r, &t);
            if (digit > 0) ge_add_cached(&t, &r, &terms[k].table[digit / 2], 0);
            else ge_add_cached(&t, &r, &terms[k].table[(-digit) / 2], 1);
        }
        if (i > 0) completed_to_projective(&r, &t);
        else completed_to_ge(&r, &t);
    }
    *result = r;
}

/* ---- exported API ----------------------------------------------------------------------- */

/*
 * out[row] = sum_k coefficients[row][k] * points[k] for every row, encoded.
 * points: npoints 32-byte encodings (the generator uses a precomputed table);
 * coefficients: nrows * npoints 32-byte little-endian scalars below 2^253 (reduced mod l).
 * Returns 0, -1 for an invalid point, -2 for too many points, -3 for an unreduced scalar.
 */
SV_EXPORT int sv_lincombs(size_t npoints, const uint8_t *points, size_t nrows,
                          const uint8_t *coefficients, uint8_t *out) {
    if (npoints > MAX_POINTS) return -2;
    ge_cached tables[MAX_POINTS][VAR_TABLE];
    const ge_cached *table_of[MAX_POINTS];
    for (size_t k = 0; k < npoints; k++) {
        const uint8_t *enc = points + 32 * k;
        if (memcmp(enc, BASE_ENCODING, 32) == 0) {
            table_of[k] = BASE_TABLE_CACHED;
            continue;
        }
        ge p;
        if (ge_decode(&p, enc) != 0) return -1;
        build_table(tables[k], VAR_TABLE, &p);
        table_of[k] = tables[k];
    }
    term terms[MAX_POINTS];
    for (size_t row = 0; row < nrows; row++) {
        int count = 0;
        for (size_t k = 0; k < npoints; k++) {
            const uint8_t *scalar = coefficients + 32 * (row * npoints + k);
            const int width = table_of[k] == BASE_TABLE_CACHED ? BASE_WIDTH : VAR_WIDTH;
            if (scalar_naf(terms[count].naf, scalar, width) != 0) return -3;
            terms[count].table = table_of[k];
            count++;
        }
        ge r;
        straus(&r, terms, count);
        ge_encode(out + 32 * row, &r);
    }
    return 0;
}

/* Running sums for the tally: an accumulator is a ge (160 bytes, caller-allocated). */
SV_EXPORT size_t sv_accumulator_size(void) { return sizeof(ge); }

SV_EXPORT void sv_accumulator_zero(uint8_t *accumulator) {
    ge p;
    ge_identity(&p);
    memcpy(accumulator, &p, sizeof(ge));
}

/* accumulator += decode(enc); returns 0, or -1 (accumulator unchanged) for an invalid encoding. */
SV_EXPORT int sv_accumulator_add(uint8_t *accumulator, const uint8_t enc[32]) {
    ge sum, p;
    if (ge_decode(&p, enc) != 0) return -1;
    memcpy(&sum, accumulator, sizeof(ge));
    ge_add(&sum, &sum, &p);
    memcpy(accumulator, &sum, sizeof(ge));
    return 0;
}

SV_EXPORT void sv_accumulator_encode(const uint8_t *accumulator, uint8_t out[32]) {
    ge p;
    memcpy(&p, accumulator, sizeof(ge));
    ge_encode(out, &p);
}

/* Canonical re-encoding of an encoding: 0 and out = enc when valid, -1 otherwise. */
SV_EXPORT int sv_roundtrip(const uint8_t enc[32], uint8_t out[32]) {
    ge p;
    if (ge_decode(&p, enc) != 0) return -1;
    ge_encode(out, &p);
    return 0;
}

__attribute__((constructor)) static void sv_init(void) {
    fe a_minus_d;
    fe_neg(a_minus_d, FE_ONE);
    fe_sub(a_minus_d, a_minus_d, FE_D);
    fe_sqrt_ratio_m1(INVSQRT_A_MINUS_D, FE_ONE, a_minus_d);
    ge base;
    ge_decode(&base, BASE_ENCODING);
    build_table(BASE_TABLE_CACHED, BASE_TABLE, &base);
}
