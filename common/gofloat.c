/* common/gofloat.c - Go's strconv.FormatFloat (see gofloat.h).
 *
 * DESIGN: a value becomes decimal digits d[0..nd) with the decimal point after dp of them
 * (Go's decimalSlice; zero has nd = dp = 0), then is laid out by Go's fmtE / fmtF / %g rules.
 * Shortest digits come from the cheapest exact method that applies, in this order:
 *   1. integers below 2^53: their own digits (every integer there is its own double, so no
 *      shorter string can parse back to it);
 *   2. short decimals (0.25, 42.125): the smallest k <= 3 with v == m / 10^k for an integer
 *      m < 2^53 - m and 10^k are exact doubles and the division is correctly rounded, so the
 *      test is exact and m * 10^-k is the shortest form;
 *   3. 1e-5 <= v < 2^53 (nearly every sample value): v * 10^k scaled to 17 integer digits in
 *      exact 128-bit arithmetic; the two 15-, 16-, then 17-digit neighbours of v are tested
 *      against v's rounding interval (half an ulp each side, a quarter ulp below a power of
 *      two, bounds included when the mantissa is even, as strtod's ties-to-even decides) and
 *      the closer that fits wins, as Go's Ryu picks. The interval is narrower than one unit
 *      of the 15th digit, so a form of 15 digits or fewer shows up as a 15-digit neighbour;
 *   4. the rest (tiny, huge, subnormal): method 2 up to k = 22, else one correctly rounded
 *      17-digit print (always enough) whose 15- and 16-digit roundings, and at a power of
 *      two the neighbour above, are tried with strtod. Subnormals, with fewer bits, are
 *      searched from 1 digit up.
 * Fixed precisions round the exact binary value half-to-even, which glibc's printf does too,
 * so 'e' and 'f' print with snprintf and 'g' takes its digits from "%.*e". */
#include "common/gofloat.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An exact double has at most 767 significant digits: more are zeros, trimmed anyway. */
#define MAX_DIGITS 780

typedef struct {
    char d[MAX_DIGITS + 8];
    int nd, dp;
} dec_t;

/* Output into a caller buffer: bytes past n-1 are counted, not written. */
typedef struct {
    char *s;
    size_t n, len;
} sink_t;

static void put(sink_t *o, char c)
{
    if (o->len + 1 < o->n) {
        o->s[o->len] = c;
    }
    o->len++;
}

static void put_digits(sink_t *o, const char *d, int n)
{
    for (int i = 0; i < n; i++) {
        put(o, d[i]);
    }
}

static size_t finish(sink_t *o)
{
    if (o->n > 0) {
        o->s[o->len < o->n ? o->len : o->n - 1] = '\0';
    }
    return o->len;
}

static void trim_zeros(dec_t *x)
{
    while (x->nd > 0 && x->d[x->nd - 1] == '0') {
        x->nd--;
    }
}

/* Digits of m > 0 into x, trailing zeros dropped; dp = number of integer digits - k. */
static void from_u64(dec_t *x, uint64_t m, int k)
{
    char rev[24];
    int n = 0;
    do {
        rev[n++] = (char)('0' + m % 10);
        m /= 10;
    } while (m > 0);
    for (int i = 0; i < n; i++) {
        x->d[i] = rev[n - 1 - i];
    }
    x->nd = n;
    x->dp = n - k;
    trim_zeros(x);
}

static const double pow10_dbl[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Method 1 of the DESIGN note for v > 0, then method 2 for k in [1, k_max]; 0 when neither
 * applies. */
static int exact_short(double v, int k_max, dec_t *x)
{
    if (v < 9007199254740992.0 && v == (double)(uint64_t)v) {
        from_u64(x, (uint64_t)v, 0);
        return 1;
    }
    if (v < DBL_MIN) {
        return 0;
    }
    for (int k = 1; k <= k_max; k++) {
        double m = nearbyint(v * pow10_dbl[k]);
        if (m >= 9007199254740992.0) {
            break;
        }
        if (m > 0 && m / pow10_dbl[k] == v) {
            from_u64(x, (uint64_t)m, k);
            return 1;
        }
    }
    return 0;
}

/* v > 0 correctly rounded to p significant digits (1 <= p <= MAX_DIGITS) into x, trailing
 * zeros dropped. */
static void print_digits(double v, int p, dec_t *x)
{
    char tmp[MAX_DIGITS + 16];
    snprintf(tmp, sizeof(tmp), "%.*e", p - 1, v);
    char *e = strchr(tmp, 'e');
    x->nd = 0;
    for (const char *c = tmp; c < e; c++) {
        if (*c != '.') {
            x->d[x->nd++] = *c;
        }
    }
    x->dp = atoi(e + 1) + 1;
    trim_zeros(x);
}

/* Does d * 10^(dp - nd) parse back to v? */
static int parses_to(double v, const dec_t *x)
{
    char tmp[48];
    snprintf(tmp, sizeof(tmp), "0.%.*se%d", x->nd, x->d, x->dp);
    return strtod(tmp, NULL) == v;
}

/* The p-digit rounding of the 17 digits d17 (of v, correctly rounded) into x: rounded to
 * nearest, or the neighbour above with `up`. 0 when the cut falls on an exact tie (5 then
 * zeros), where rounding rounded digits could differ from rounding v itself. */
static int round17(const dec_t *d17, int p, int up, dec_t *x)
{
    const char *d = d17->d;
    int nd = d17->nd;
    if (!up && p < nd && d[p] == '5' && p + 1 == nd) {
        return 0;
    }
    if (p >= nd) {
        *x = *d17; /* already p digits or fewer */
        return 1;
    }
    memcpy(x->d, d, (size_t)p);
    x->nd = p;
    x->dp = d17->dp;
    if (d[p] >= '5' || up) {
        int i = p - 1;
        for (; i >= 0 && x->d[i] == '9'; i--) {
            x->d[i] = '0';
        }
        if (i < 0) { /* 99..9 rounds up to 1 and one more integer digit */
            x->d[0] = '1';
            x->nd = 1;
            x->dp++;
        } else {
            x->d[i]++;
        }
    }
    trim_zeros(x);
    return 1;
}

/* Tries the p-digit forms of v near d17; 1 with x set when one parses back to v. */
static int try_digits(double v, const dec_t *d17, int p, int lopsided, dec_t *x)
{
    if (!round17(d17, p, 0, x)) {
        print_digits(v, p, x);
    }
    if (parses_to(v, x)) {
        return 1;
    }
    /* one unit above the cut: the neighbour above when rounding went down, else x again */
    return lopsided && round17(d17, p, 1, x) && parses_to(v, x);
}

/* 15, or 16 when no form of 15 digits or fewer can parse back to the normal double whose
 * 17 digits are d17. v is within half an ulp (< 11.2 units of the 17th digit, as 2^-53 *
 * 10^17 < 11.2) of such a form, which is a multiple of 100 units; d17 is within 0.5 units
 * of v. So the last two digits of d17 lie within 12 of a multiple of 100, else 16. */
static int first_candidate(const dec_t *d17)
{
    int last2 = (d17->nd > 15 ? d17->d[15] - '0' : 0) * 10 + (d17->nd > 16 ? d17->d[16] - '0' : 0);
    return last2 >= 12 && last2 <= 88 ? 16 : 15;
}

/* ---- exact 128-bit path for 1e-5 <= v < 2^53 ------------------------------------------ */

typedef unsigned __int128 u128;

/* v = m * 2^-E with 2^52 <= m < 2^53 scaled by 10^k: N = m * 10^k, so v * 10^k = N / 2^E.
 * With k <= 21 and E <= 70 every product below stays under 2^128. */
typedef struct {
    u128 n, ulp; /* N, and one ulp of v in N's units (10^k) */
    int e_shift; /* E */
    int exp10;   /* 10^exp10 <= v < 10^(exp10 + 1) */
    int even, lopsided;
} scaled_t;

static const uint64_t pow10_u64[] = {1ULL,
                                     10ULL,
                                     100ULL,
                                     1000ULL,
                                     10000ULL,
                                     100000ULL,
                                     1000000ULL,
                                     10000000ULL,
                                     100000000ULL,
                                     1000000000ULL,
                                     10000000000ULL,
                                     100000000000ULL,
                                     1000000000000ULL,
                                     10000000000000ULL,
                                     100000000000000ULL,
                                     1000000000000000ULL,
                                     10000000000000000ULL,
                                     100000000000000000ULL,
                                     1000000000000000000ULL,
                                     10000000000000000000ULL};

static u128 pow10_u128(int k)
{
    return k <= 19 ? pow10_u64[k] : (u128)pow10_u64[19] * pow10_u64[k - 19];
}

/* Fills s for v in [1e-5, 2^53); 0 outside that range. exp10 is found by scaling to 17
 * integer digits: the truncation N >> E must lie in [10^16, 10^17). */
static int scale(double v, scaled_t *s)
{
    if (!(v >= 1e-5 && v < 9007199254740992.0)) {
        return 0;
    }
    int e2;
    uint64_t m = (uint64_t)ldexp(frexp(v, &e2), 53);
    s->e_shift = 53 - e2;
    s->even = (m & 1) == 0;
    s->lopsided = m == (1ULL << 52);
    s->exp10 = ((e2 - 1) * 1233) >> 12; /* floor((e2 - 1) * log10(2)): at most one too low */
    for (int tries = 0; tries < 3; tries++) {
        int k = 16 - s->exp10;
        if (k < 1 || k > 21) {
            return 0;
        }
        s->ulp = pow10_u128(k);
        s->n = (u128)m * s->ulp;
        u128 t = s->n >> s->e_shift;
        if (t >= pow10_u64[17]) {
            s->exp10++;
        } else if (t < pow10_u64[16]) {
            s->exp10--;
        } else {
            return 1;
        }
    }
    return 0;
}

/* Does c (in units of the 17th digit) parse back to v? Its distance to v, doubled, must
 * stay within one ulp (half an ulp each side; a quarter below a power of two), the bound
 * itself included when m is even, as strtod's ties-to-even rounding decides. */
static int within(const scaled_t *s, uint64_t c, u128 *dist)
{
    u128 cs = (u128)c << s->e_shift;
    int below = cs < s->n;
    u128 d = below ? s->n - cs : cs - s->n;
    u128 lim = s->ulp;
    u128 d2 = below && s->lopsided ? 4 * d : 2 * d;
    *dist = d;
    return s->even ? d2 <= lim : d2 < lim;
}

/* Shortest digits through the exact 128-bit arithmetic; 0 when v is out of its range. */
static int shortest_exact(double v, dec_t *x)
{
    scaled_t s;
    if (!scale(v, &s)) {
        return 0;
    }
    uint64_t t17 = (uint64_t)(s.n >> s.e_shift);
    for (int p = 15; p <= 17; p++) {
        uint64_t unit = pow10_u64[17 - p];
        uint64_t lo = t17 / unit * unit, hi = lo + unit;
        u128 dlo, dhi;
        int ok_lo = within(&s, lo, &dlo), ok_hi = within(&s, hi, &dhi);
        if (!ok_lo && !ok_hi) {
            continue; /* p = 17 always has one: the interval is wider than one unit */
        }
        /* the closer; on an exact tie the even last digit, as Go's rounding does */
        int pick_hi = !ok_lo || (ok_hi && (dhi < dlo || (dhi == dlo && (lo / unit) % 2 == 1)));
        from_u64(x, (pick_hi ? hi : lo) / unit, p - 1 - s.exp10);
        return 1;
    }
    return 0;
}

/* Go's shortest digits of finite v >= 0. */
static void shortest(double v, dec_t *x)
{
    x->nd = x->dp = 0;
    /* the few-decimals loop is the cheapest for counters and 0.25; exact_short up to 10^-22
     * then covers short decimals outside shortest_exact's range (1e-7) */
    if (v == 0 || exact_short(v, 3, x) || shortest_exact(v, x) || exact_short(v, 22, x)) {
        return;
    }
    dec_t d17;
    print_digits(v, 17, &d17);
    int e2;
    int lopsided = frexp(v, &e2) == 0.5 && v >= DBL_MIN; /* a power of two */
    for (int p = v >= DBL_MIN ? first_candidate(&d17) : 1; p < 17; p++) {
        if (try_digits(v, &d17, p, lopsided, x)) {
            return;
        }
    }
    *x = d17;
}

/* Go's fmtE: d.ddd with `prec` decimals, then e+XX (at least two exponent digits). */
static void layout_e(sink_t *o, const dec_t *x, int prec, char e)
{
    put(o, x->nd > 0 ? x->d[0] : '0');
    if (prec > 0) {
        put(o, '.');
        for (int i = 1; i <= prec; i++) {
            put(o, i < x->nd ? x->d[i] : '0');
        }
    }
    int exp = x->nd > 0 ? x->dp - 1 : 0;
    put(o, e);
    put(o, exp < 0 ? '-' : '+');
    exp = exp < 0 ? -exp : exp;
    if (exp >= 100) {
        put(o, (char)('0' + exp / 100));
    }
    put(o, (char)('0' + exp / 10 % 10));
    put(o, (char)('0' + exp % 10));
}

/* Go's fmtF: integer digits (at least "0"), then `prec` decimals. */
static void layout_f(sink_t *o, const dec_t *x, int prec)
{
    if (x->dp > 0) {
        int m = x->nd < x->dp ? x->nd : x->dp;
        put_digits(o, x->d, m);
        for (; m < x->dp; m++) {
            put(o, '0');
        }
    } else {
        put(o, '0');
    }
    if (prec > 0) {
        put(o, '.');
        for (int i = 0; i < prec; i++) {
            int j = x->dp + i;
            put(o, j >= 0 && j < x->nd ? x->d[j] : '0');
        }
    }
}

/* Go's %g choice between the two forms; prec is the digit count asked for (shortest: nd). */
static void layout_g(sink_t *o, const dec_t *x, int prec, int is_shortest, char e)
{
    int eprec = prec;
    if (eprec > x->nd && x->nd >= x->dp) {
        eprec = x->nd;
    }
    if (is_shortest) {
        eprec = 6;
    }
    int exp = x->dp - 1;
    if (exp < -4 || exp >= eprec) {
        layout_e(o, x, (prec > x->nd ? x->nd : prec) - 1, e);
        return;
    }
    int p = prec > x->dp ? x->nd : prec;
    layout_f(o, x, p - x->dp > 0 ? p - x->dp : 0);
}

static void format_shortest(sink_t *o, double v, char fmt)
{
    dec_t x;
    shortest(fabs(v), &x);
    switch (fmt) {
    case 'e':
    case 'E': layout_e(o, &x, x.nd > 1 ? x.nd - 1 : 0, fmt); break;
    case 'f': layout_f(o, &x, x.nd > x.dp ? x.nd - x.dp : 0); break;
    default: layout_g(o, &x, x.nd, 1, fmt == 'G' ? 'E' : 'e');
    }
}

size_t gofloat_format(double v, char fmt, int prec, char *out, size_t n)
{
    sink_t o = {out, n, 0};
    if (isnan(v)) {
        return (size_t)snprintf(out, n, "NaN");
    }
    if (isinf(v)) {
        return (size_t)snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
    }
    if (prec >= 0 && (fmt == 'e' || fmt == 'E' || fmt == 'f')) {
        const char *f = fmt == 'f' ? "%.*f" : fmt == 'e' ? "%.*e" : "%.*E";
        return (size_t)snprintf(out, n, f, prec, v);
    }
    if (signbit(v)) {
        put(&o, '-');
    }
    if (prec < 0) {
        format_shortest(&o, v, fmt);
        return finish(&o);
    }
    dec_t x = {.nd = 0, .dp = 0};
    int digits = prec == 0 ? 1 : prec > MAX_DIGITS ? MAX_DIGITS : prec;
    if (v != 0) {
        print_digits(fabs(v), digits, &x);
    }
    layout_g(&o, &x, prec == 0 ? 1 : prec, 0, fmt == 'G' ? 'E' : 'e');
    return finish(&o);
}

void gofloat_append(buf_t *out, double v, char fmt, int prec)
{
    char tmp[GOFLOAT_SHORTEST_MAX];
    size_t len = gofloat_format(v, fmt, prec, tmp, sizeof(tmp));
    if (len < sizeof(tmp)) {
        buf_append(out, tmp, len);
        return;
    }
    buf_reserve(out, len + 1);
    gofloat_format(v, fmt, prec, out->data + out->len, len + 1);
    out->len += len;
}

size_t gofloat_prom(double v, char *out, size_t n)
{
    return gofloat_format(v, 'f', -1, out, n);
}

size_t gofloat_json(double v, char *out, size_t n)
{
    double a = fabs(v);
    int use_e = a != 0 && (a < 1e-6 || a >= 1e21);
    char tmp[GOFLOAT_SHORTEST_MAX];
    size_t len = gofloat_format(v, use_e ? 'e' : 'f', -1, tmp, sizeof(tmp));
    if (use_e && len >= 4 && tmp[len - 4] == 'e' && tmp[len - 3] == '-' && tmp[len - 2] == '0') {
        tmp[len - 2] = tmp[len - 1]; /* e-07 -> e-7, as encoding/json cleans it up */
        tmp[--len] = '\0';
    }
    return (size_t)snprintf(out, n, "%s", tmp);
}
