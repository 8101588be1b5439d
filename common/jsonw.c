/* common/jsonw.c - streaming JSON writer (see jsonw.h) and Prometheus/Go number formatting.
 *
 * DESIGN: the writer keeps one byte per open container saying whether it is still empty, so
 * the comma before each element is decided without help from the caller; a key sets
 * `after_key` so the value that follows takes no comma. Output bytes follow Go's
 * encoding/json (what Prometheus, Mimir, Loki and Alertmanager emit): HTML-sensitive bytes
 * and U+2028/U+2029 escaped, invalid UTF-8 replaced by \ufffd one byte at a time.
 * Floats: the shortest digit string that round-trips (Go's choice) comes from an exact
 * integer test for short decimals, else from one 17-digit "%.16e" print whose 15- and
 * 16-digit roundings are tried with strtod (see shortest_digits); it is then laid out in
 * fixed or exponent form. Checked against a brute-force search on 3M values. */
#include "common/jsonw.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

struct jsonw {
    buf_t *out;
    unsigned char *is_empty; /* per open container: no element written yet */
    size_t depth, cap;
    int after_key;
};

jsonw_t *jsonw_new(buf_t *out)
{
    jsonw_t *w = xcalloc(1, sizeof(*w));
    w->out = out;
    return w;
}

void jsonw_free(jsonw_t *w)
{
    if (w == NULL) {
        return;
    }
    free(w->is_empty);
    free(w);
}

/* Writes the separator a new element needs in the current container. */
static void jsonw_sep(jsonw_t *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth == 0) {
        return;
    }
    if (!w->is_empty[w->depth - 1]) {
        buf_putc(w->out, ',');
    }
    w->is_empty[w->depth - 1] = 0;
}

static void jsonw_open(jsonw_t *w, char c)
{
    jsonw_sep(w);
    buf_putc(w->out, c);
    xgrow((void **)&w->is_empty, &w->cap, w->depth + 1, 1);
    w->is_empty[w->depth++] = 1;
}

static void jsonw_close(jsonw_t *w, char c)
{
    if (w->depth > 0) {
        w->depth--;
    }
    buf_putc(w->out, c);
}

void jsonw_obj_begin(jsonw_t *w)
{
    jsonw_open(w, '{');
}

void jsonw_obj_end(jsonw_t *w)
{
    jsonw_close(w, '}');
}

void jsonw_arr_begin(jsonw_t *w)
{
    jsonw_open(w, '[');
}

void jsonw_arr_end(jsonw_t *w)
{
    jsonw_close(w, ']');
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. Same acceptance as
 * Go's utf8.DecodeRune: no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_valid_len(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c >= 0xf0 && c <= 0xf4) {
        len = 4, min = 0x10000, *cp = c & 0x07;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, min = 0x800, *cp = c & 0x0f;
    } else if (c >= 0xc2 && c <= 0xdf) {
        len = 2, min = 0x80, *cp = c & 0x1f;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        *cp = (*cp << 6) | (s[i] & 0x3f);
    }
    if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff)) {
        return 0;
    }
    return len;
}

/* Escape for an ASCII byte, or NULL when it is written as is. `tmp` holds \u00XX forms. */
static const char *ascii_escape(unsigned char c, char tmp[8])
{
    switch (c) {
    case '"':
        return "\\\"";
    case '\\':
        return "\\\\";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    case '\b':
        return "\\b";
    case '\f':
        return "\\f";
    default:
        break;
    }
    /* Go escapes < > & too, so the bytes match what upstream's json.Marshal sends. */
    if (c < 0x20 || c == '<' || c == '>' || c == '&') {
        snprintf(tmp, 8, "\\u%04x", c);
        return tmp;
    }
    return NULL;
}

/* Writes one non-ASCII character at s; returns the bytes consumed. */
static size_t put_non_ascii(buf_t *out, const unsigned char *s, size_t n)
{
    unsigned cp = 0;
    size_t len = utf8_valid_len(s, n, &cp);
    if (len == 0) {
        buf_puts(out, "\\ufffd");
        return 1;
    }
    if (cp == 0x2028 || cp == 0x2029) {
        buf_printf(out, "\\u%04x", cp);
    } else {
        buf_append(out, s, len);
    }
    return len;
}

static void put_escaped(buf_t *out, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    char tmp[8];
    buf_putc(out, '"');
    size_t i = 0, run = 0; /* run: start of pending bytes that need no escaping */
    while (i < n) {
        const char *esc = s[i] < 0x80 ? ascii_escape(s[i], tmp) : NULL;
        if (s[i] < 0x80 && esc == NULL) {
            i++;
            continue;
        }
        buf_append(out, s + run, i - run);
        if (esc != NULL) {
            buf_puts(out, esc);
            i++;
        } else {
            i += put_non_ascii(out, s + i, n - i);
        }
        run = i;
    }
    buf_append(out, s + run, n - run);
    buf_putc(out, '"');
}

void jsonw_key(jsonw_t *w, const char *key)
{
    jsonw_sep(w);
    put_escaped(w->out, key, strlen(key));
    buf_putc(w->out, ':');
    w->after_key = 1;
}

void jsonw_str(jsonw_t *w, const char *s)
{
    jsonw_strn(w, s, strlen(s));
}

void jsonw_strn(jsonw_t *w, const char *s, size_t n)
{
    jsonw_sep(w);
    put_escaped(w->out, s, n);
}

void jsonw_int(jsonw_t *w, int64_t v)
{
    jsonw_sep(w);
    buf_printf(w->out, "%lld", (long long)v);
}

void jsonw_bool(jsonw_t *w, int v)
{
    jsonw_sep(w);
    buf_puts(w->out, v ? "true" : "false");
}

void jsonw_null(jsonw_t *w)
{
    jsonw_sep(w);
    buf_puts(w->out, "null");
}

void jsonw_raw(jsonw_t *w, const char *json)
{
    jsonw_sep(w);
    buf_puts(w->out, json);
}

void jsonw_prom_time(jsonw_t *w, int64_t ms)
{
    jsonw_sep(w);
    /* Seconds with the millisecond fraction's trailing zeros trimmed (1500 -> 1.5), which is
     * what Prometheus 2.x's float64(ms)/1000 encodes to; integer arithmetic, no rounding. */
    uint64_t abs_ms = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
    buf_printf(w->out, "%s%llu", ms < 0 ? "-" : "", (unsigned long long)(abs_ms / 1000));
    unsigned frac = (unsigned)(abs_ms % 1000);
    if (frac != 0) {
        char digits[4];
        snprintf(digits, sizeof(digits), "%03u", frac);
        size_t n = 3;
        while (digits[n - 1] == '0') {
            n--;
        }
        buf_putc(w->out, '.');
        buf_append(w->out, digits, n);
    }
}

/* ---- float formatting ---------------------------------------------------------------- */

/* Writes the decimal digits of m (no trailing zeros) into digits; returns how many were
 * written before trimming, i.e. the number of integer digits of m. */
static int u64_digits(uint64_t m, char digits[24])
{
    char rev[24];
    int n = 0;
    do {
        rev[n++] = (char)('0' + m % 10);
        m /= 10;
    } while (m > 0);
    int first_kept = 0;
    while (first_kept < n - 1 && rev[first_kept] == '0') {
        first_kept++; /* trailing zeros of m */
    }
    for (int i = 0; i < n - first_kept; i++) {
        digits[i] = rev[n - 1 - i];
    }
    digits[n - first_kept] = '\0';
    return n;
}

/* Fast path for values with a short decimal form (counters, 0.5, 42.25): the smallest k
 * with v = m / 10^k for an integer m < 2^53. m and 10^k are exact doubles and the division
 * is correctly rounded, so the check is exact and m * 10^-k is the shortest form. Returns
 * the exponent as shortest_digits does, or INT32_MIN when there is no such k <= 22. */
static int short_decimal(double v, char digits[24])
{
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    for (int k = 0; k < (int)(sizeof(pow10) / sizeof(pow10[0])); k++) {
        double m = nearbyint(v * pow10[k]);
        if (m >= 9007199254740992.0) {
            break;
        }
        if (m > 0 && m / pow10[k] == v) {
            return u64_digits((uint64_t)m, digits) - 1 - k;
        }
    }
    return INT32_MIN;
}

/* Rounds the 17 digits d17 (of v, correctly rounded) to p digits into out. Returns the
 * exponent carry (1 when 99..9 rounded up to 100..0), or -1 when the cut falls on an exact
 * tie (a 5 followed by zeros), where rounding the rounded digits could differ from
 * rounding v itself. */
static int round_digits(const char *d17, int p, char *out)
{
    if (d17[p] == '5' && strspn(d17 + p + 1, "0") == (size_t)(16 - p)) {
        return -1;
    }
    memcpy(out, d17, (size_t)p);
    out[p] = '\0';
    if (d17[p] < '5') {
        return 0;
    }
    for (int i = p - 1; i >= 0; i--) {
        if (out[i] != '9') {
            out[i]++;
            return 0;
        }
        out[i] = '0';
    }
    memmove(out + 1, out, (size_t)p); /* all nines: 1 followed by zeros, one digit more */
    out[0] = '1';
    out[p] = '\0';
    return 1;
}

/* Does the decimal digits * 10^(exp - ndigits + 1) parse back to v? */
static int parses_to(double v, const char *digits, int exp)
{
    char tmp[48];
    snprintf(tmp, sizeof(tmp), "%c.%se%d", digits[0], digits + 1, exp);
    return strtod(tmp, NULL) == v;
}

/* Prints v with `prec` significant digits into digits (no dot); returns the exponent. */
static int print_digits(double v, int prec, char digits[24])
{
    char tmp[40];
    snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
    char *e = strchr(tmp, 'e');
    size_t nd = 0;
    for (const char *p = tmp; p < e; p++) {
        if (*p != '.') {
            digits[nd++] = *p;
        }
    }
    digits[nd] = '\0';
    return atoi(e + 1);
}

/* Shortest decimal digits of finite v > 0 that parse back to v. Writes the digits (no dot,
 * no trailing zeros) into `digits` and returns the exponent: v ~ d1.d2d3... * 10^exp.
 * After the exact short-decimal path, v is printed once with 17 digits (always enough);
 * its correct roundings to 15 and 16 digits are derived from those digits (a tie at the cut
 * is printed again instead) and the first that parses back wins. A normal double whose
 * shortest form has at most 15 digits shows it in its 15-digit rounding (DBL_DIG).
 * Subnormals, with fewer bits, are searched from 1 digit up. Correct rounding makes the
 * result the nearest of the shortest forms, as Go's strconv picks. */
static int shortest_digits(double v, char digits[24])
{
    int exp = v >= DBL_MIN ? short_decimal(v, digits) : INT32_MIN;
    if (exp == INT32_MIN) {
        char d17[24];
        int e17 = print_digits(v, 17, d17);
        exp = e17;
        strcpy(digits, d17);
        for (int p = v >= DBL_MIN ? 15 : 1; p < 17; p++) {
            char cand[24];
            int carry = round_digits(d17, p, cand);
            int e = carry < 0 ? print_digits(v, p, cand) : e17 + carry;
            if (parses_to(v, cand, e)) {
                strcpy(digits, cand);
                exp = e;
                break;
            }
        }
    }
    size_t nd = strlen(digits);
    while (nd > 1 && digits[nd - 1] == '0') {
        digits[--nd] = '\0';
    }
    return exp;
}

/* Fixed notation of a double needs at most 327 bytes: "-0." + 323 zeros + 17 digits for
 * the smallest subnormal, 309 digits for the largest finite value. */
typedef struct {
    char s[400];
    size_t n;
} numbuf_t;

static void nb_putc(numbuf_t *b, char c)
{
    if (b->n < sizeof(b->s) - 1) {
        b->s[b->n++] = c;
        b->s[b->n] = '\0';
    }
}

static void nb_puts(numbuf_t *b, const char *s)
{
    while (*s != '\0') {
        nb_putc(b, *s++);
    }
}

/* Fixed notation of the digits with the first one at 10^exp, as Go's 'f' with precision -1. */
static void layout_fixed(numbuf_t *b, const char *digits, int exp)
{
    int nd = (int)strlen(digits);
    if (exp < 0) {
        nb_puts(b, "0.");
        for (int i = 0; i < -exp - 1; i++) {
            nb_putc(b, '0');
        }
        nb_puts(b, digits);
        return;
    }
    for (int i = 0; i <= exp; i++) {
        nb_putc(b, i < nd ? digits[i] : '0');
    }
    if (nd > exp + 1) {
        nb_putc(b, '.');
        nb_puts(b, digits + exp + 1);
    }
}

/* Exponent notation as encoding/json writes it: 1e-7, 1.5e+21. */
static void layout_exp(numbuf_t *b, const char *digits, int exp)
{
    char tmp[16];
    nb_putc(b, digits[0]);
    if (digits[1] != '\0') {
        nb_putc(b, '.');
        nb_puts(b, digits + 1);
    }
    snprintf(tmp, sizeof(tmp), "e%c%d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    nb_puts(b, tmp);
}

/* Shortest round-trip text of v: always fixed notation with `fixed_only` (Go's
 * strconv.FormatFloat(v, 'f', -1, 64)), else encoding/json's cut-over to exponent form
 * outside [1e-6, 1e21) with a one-digit minimum exponent (1e-7, 1e+21). */
static void format_go_float(numbuf_t *b, double v, int fixed_only)
{
    if (signbit(v)) {
        nb_putc(b, '-');
        v = -v;
    }
    if (v == 0) {
        nb_putc(b, '0');
        return;
    }
    char digits[24];
    int exp = shortest_digits(v, digits);
    if (!fixed_only && (v < 1e-6 || v >= 1e21)) {
        layout_exp(b, digits, exp);
    } else {
        layout_fixed(b, digits, exp);
    }
}

size_t prom_float_format(double v, char *out, size_t n)
{
    numbuf_t b = {.n = 0};
    if (isnan(v)) {
        nb_puts(&b, "NaN");
    } else if (isinf(v)) {
        nb_puts(&b, v > 0 ? "+Inf" : "-Inf");
    } else {
        format_go_float(&b, v, 1);
    }
    if (n > 0) {
        size_t c = b.n < n - 1 ? b.n : n - 1;
        memcpy(out, b.s, c);
        out[c] = '\0';
    }
    return b.n;
}

void jsonw_prom_float(jsonw_t *w, double v)
{
    char tmp[400];
    jsonw_sep(w);
    size_t len = prom_float_format(v, tmp, sizeof(tmp));
    buf_putc(w->out, '"');
    buf_append(w->out, tmp, len);
    buf_putc(w->out, '"');
}

void jsonw_double(jsonw_t *w, double v)
{
    numbuf_t b = {.n = 0};
    jsonw_sep(w);
    if (!isfinite(v)) {
        buf_puts(w->out, "null");
        return;
    }
    format_go_float(&b, v, 0);
    buf_append(w->out, b.s, b.n);
}

void jsonw_json(jsonw_t *w, const json_t *v)
{
    const char *key;
    json_t *item;
    size_t i;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        jsonw_obj_begin(w);
        json_object_foreach ((json_t *)v, key, item) {
            jsonw_key(w, key);
            jsonw_json(w, item);
        }
        jsonw_obj_end(w);
        break;
    case JSON_ARRAY:
        jsonw_arr_begin(w);
        json_array_foreach (v, i, item) {
            jsonw_json(w, item);
        }
        jsonw_arr_end(w);
        break;
    case JSON_STRING:
        jsonw_strn(w, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        jsonw_int(w, json_integer_value(v));
        break;
    case JSON_REAL:
        jsonw_double(w, json_real_value(v));
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        jsonw_bool(w, json_is_true(v));
        break;
    case JSON_NULL:
        jsonw_null(w);
        break;
    }
}
