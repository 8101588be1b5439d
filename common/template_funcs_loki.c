/* common/template_funcs_loki.c - the functions Loki's line_format and label_format offer:
 * Go strings functions under their Go names (ToLower, Replace, Trim*...), the subset of sprig
 * Loki registers (lower, upper, trunc, substr, contains, indent, repeat, default, date,
 * toDate, b64enc, arithmetic...), and Loki's own (regexReplaceAll, count, alignLeft,
 * __line__, __timestamp__, unixEpoch, bytes, duration, urlencode...). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/template_int.h"
#include "common/timeutil.h"

static const char *cstr(tstate_t *st, tv_t s)
{
    return tstate_strdup(st, s.u.s.p, s.u.s.n);
}

static int ret_buf(tstate_t *st, buf_t *b, tv_t *out)
{
    *out = tstate_buf_value(st, b);
    buf_fini(b);
    return 0;
}

/* strings.Replace(s, old, new, n): n < 0 replaces all. */
static void replace(tv_t s, tv_t old, tv_t rep, int64_t n, buf_t *out)
{
    size_t i = 0;
    int64_t done = 0;
    while (i <= s.u.s.n && (n < 0 || done < n)) {
        const char *hit = NULL;
        if (old.u.s.n == 0) {
            hit = s.u.s.p + i; /* empty old: insert before each rune and at the end */
        } else {
            hit = memmem(s.u.s.p + i, s.u.s.n - i, old.u.s.p, old.u.s.n);
        }
        if (hit == NULL) {
            break;
        }
        size_t at = (size_t)(hit - s.u.s.p);
        buf_append(out, s.u.s.p + i, at - i);
        buf_append(out, rep.u.s.p, rep.u.s.n);
        done++;
        if (old.u.s.n == 0) {
            if (at >= s.u.s.n) {
                i = s.u.s.n + 1;
                break;
            }
            size_t k = at + 1;
            while (k < s.u.s.n && ((unsigned char)s.u.s.p[k] & 0xC0) == 0x80) {
                k++;
            }
            buf_append(out, s.u.s.p + at, k - at);
            i = k;
        } else {
            i = at + old.u.s.n;
        }
    }
    if (i < s.u.s.n) {
        buf_append(out, s.u.s.p + i, s.u.s.n - i);
    }
}

static int f_replace_go(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    buf_t b;
    buf_init(&b);
    replace(a[0], a[1], a[2], a[3].u.i, &b);
    return ret_buf(st, &b, out);
}

static int f_replace_sprig(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    buf_t b;
    buf_init(&b);
    replace(a[2], a[0], a[1], -1, &b);
    return ret_buf(st, &b, out);
}

static int in_cutset(tv_t cut, char c)
{
    return memchr(cut.u.s.p, c, cut.u.s.n) != NULL;
}

/* strings.Trim/TrimLeft/TrimRight (ASCII cutsets). */
static tv_t trim_set(tv_t s, tv_t cut, int left, int right)
{
    const char *p = s.u.s.p;
    size_t n = s.u.s.n;
    while (left && n > 0 && in_cutset(cut, *p)) {
        p++;
        n--;
    }
    while (right && n > 0 && in_cutset(cut, p[n - 1])) {
        n--;
    }
    return tv_str(p, n);
}

static int f_trim(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = trim_set(a[0], a[1], 1, 1);
    return 0;
}

static int f_trim_left(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = trim_set(a[0], a[1], 1, 0);
    return 0;
}

static int f_trim_right(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = trim_set(a[0], a[1], 0, 1);
    return 0;
}

static int has_prefix(tv_t s, tv_t p)
{
    return s.u.s.n >= p.u.s.n && memcmp(s.u.s.p, p.u.s.p, p.u.s.n) == 0;
}

static int has_suffix(tv_t s, tv_t p)
{
    return s.u.s.n >= p.u.s.n && memcmp(s.u.s.p + s.u.s.n - p.u.s.n, p.u.s.p, p.u.s.n) == 0;
}

/* TrimPrefix(s, prefix) in Go order; trimPrefix(prefix, s) in sprig order. */
static int f_trim_prefix_go(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = has_prefix(a[0], a[1]) ? tv_str(a[0].u.s.p + a[1].u.s.n, a[0].u.s.n - a[1].u.s.n) : a[0];
    return 0;
}

static int f_trim_suffix_go(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = has_suffix(a[0], a[1]) ? tv_str(a[0].u.s.p, a[0].u.s.n - a[1].u.s.n) : a[0];
    return 0;
}

static int f_trim_prefix_sprig(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    tv_t sw[2] = {a[1], a[0]};
    return f_trim_prefix_go(st, sw, 2, out);
}

static int f_trim_suffix_sprig(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    tv_t sw[2] = {a[1], a[0]};
    return f_trim_suffix_go(st, sw, 2, out);
}

static int f_trim_all(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = trim_set(a[1], a[0], 1, 1);
    return 0;
}

static int f_regex_replace(tstate_t *st, const tv_t *a, int n, tv_t *out, int literal)
{
    const char *re = cstr(st, a[0]);
    if (tmpl__re_replace(st, re, a[1].u.s.p, a[1].u.s.n, a[2].u.s.p, a[2].u.s.n, literal, out) < 0) {
        return tstate_fail(st, "regexp: Compile(`%s`): %s", re, st->fn_err);
    }
    return 0;
}

static int f_regex_replace_all(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    return f_regex_replace(st, a, n, out, 0);
}

static int f_regex_replace_literal(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    return f_regex_replace(st, a, n, out, 1);
}

static int f_count(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    int64_t c;
    if (tmpl__re_count(st, cstr(st, a[0]), a[1].u.s.p, a[1].u.s.n, 0, &c) < 0) {
        return -1;
    }
    *out = tv_int(c);
    return 0;
}

/* ---- sprig string helpers ------------------------------------------------------------- */

static int f_trunc(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    int64_t c = a[0].u.i, len = (int64_t)a[1].u.s.n;
    if (c < 0 && len + c > 0) {
        *out = tv_str(a[1].u.s.p + len + c, (size_t)-c);
    } else if (c >= 0 && len > c) {
        *out = tv_str(a[1].u.s.p, (size_t)c);
    } else {
        *out = a[1];
    }
    return 0;
}

static int f_substr(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    int64_t start = a[0].u.i, end = a[1].u.i, len = (int64_t)a[2].u.s.n;
    if (start < 0) {
        start = 0;
        end = end > len ? len : end;
    } else if (end < 0 || end > len) {
        end = len;
    }
    if (start > end || start > len) {
        return tstate_fail(st, "runtime error: slice bounds out of range [%lld:%lld]",
                           (long long)start, (long long)end);
    }
    *out = tv_str(a[2].u.s.p + start, (size_t)(end - start));
    return 0;
}

static int f_contains(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = tv_bool(a[0].u.s.n == 0 || memmem(a[1].u.s.p, a[1].u.s.n, a[0].u.s.p, a[0].u.s.n));
    return 0;
}

static int f_has_prefix(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = tv_bool(has_prefix(a[1], a[0]));
    return 0;
}

static int f_has_suffix(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = tv_bool(has_suffix(a[1], a[0]));
    return 0;
}

static void indent(int64_t spaces, tv_t s, buf_t *b)
{
    for (int64_t i = 0; i < spaces; i++) {
        buf_putc(b, ' ');
    }
    for (size_t i = 0; i < s.u.s.n; i++) {
        buf_putc(b, s.u.s.p[i]);
        for (int64_t k = 0; s.u.s.p[i] == '\n' && k < spaces; k++) {
            buf_putc(b, ' ');
        }
    }
}

/* indent/nindent/alignLeft/alignRight output bounded like the template's output */
static int too_wide(tstate_t *st, int64_t count, size_t times)
{
    if (count > 0 && (uint64_t)count * times > st->lim.max_output_bytes) {
        return tstate_fail(st, "result would exceed %zu bytes", st->lim.max_output_bytes);
    }
    return 0;
}

static size_t lines_in(tv_t s)
{
    size_t n = 1;
    for (size_t i = 0; i < s.u.s.n; i++) {
        n += s.u.s.p[i] == '\n';
    }
    return n;
}

static int f_indent(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    if (too_wide(st, a[0].u.i, lines_in(a[1])) < 0) {
        return -1;
    }
    buf_t b;
    buf_init(&b);
    indent(a[0].u.i, a[1], &b);
    return ret_buf(st, &b, out);
}

static int f_nindent(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    if (too_wide(st, a[0].u.i, lines_in(a[1])) < 0) {
        return -1;
    }
    buf_t b;
    buf_init(&b);
    buf_putc(&b, '\n');
    indent(a[0].u.i, a[1], &b);
    return ret_buf(st, &b, out);
}

static int f_repeat(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    if (a[0].u.i < 0) {
        return tstate_fail(st, "strings: negative Repeat count");
    }
    if ((uint64_t)a[0].u.i * a[1].u.s.n > st->lim.max_output_bytes) {
        return tstate_fail(st, "strings: Repeat output length overflow");
    }
    buf_t b;
    buf_init(&b);
    for (int64_t i = 0; i < a[0].u.i; i++) {
        buf_append(&b, a[1].u.s.p, a[1].u.s.n);
    }
    return ret_buf(st, &b, out);
}

/* alignLeft/alignRight: cut or pad to `count` characters. */
static int align(tstate_t *st, const tv_t *a, tv_t *out, int right)
{
    int64_t count = a[0].u.i;
    tv_t s = a[1];
    size_t runes = 0;
    for (size_t i = 0; i < s.u.s.n; i++) {
        runes += ((unsigned char)s.u.s.p[i] & 0xC0) != 0x80;
    }
    if (count < 0 || (int64_t)runes == count) {
        *out = s;
        return 0;
    }
    if (too_wide(st, count, 1) < 0) {
        return -1;
    }
    buf_t b;
    buf_init(&b);
    if ((int64_t)runes > count) {
        /* keep `count` runes from the left (alignLeft) or the right (alignRight) */
        size_t skip = right ? runes - (size_t)count : 0, seen = 0, i = 0;
        for (; i < s.u.s.n && seen < skip + (size_t)count; i++) {
            int lead = ((unsigned char)s.u.s.p[i] & 0xC0) != 0x80;
            if (lead) {
                seen++;
            }
            if (seen > skip) {
                buf_putc(&b, s.u.s.p[i]);
            }
        }
        while (i < s.u.s.n && ((unsigned char)s.u.s.p[i] & 0xC0) == 0x80) {
            buf_putc(&b, s.u.s.p[i++]);
        }
    } else {
        if (!right) {
            buf_append(&b, s.u.s.p, s.u.s.n);
        }
        for (size_t i = runes; i < (size_t)count; i++) {
            buf_putc(&b, ' ');
        }
        if (right) {
            buf_append(&b, s.u.s.p, s.u.s.n);
        }
    }
    return ret_buf(st, &b, out);
}

static int f_align_left(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    return align(st, a, out, 0);
}

static int f_align_right(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    return align(st, a, out, 1);
}

/* ---- conversions and arithmetic (sprig's cast semantics, loosely) ---------------------- */

static double to_f64(tstate_t *st, tv_t v)
{
    double f = 0;
    if (v.kind == TV_BOOL) {
        return v.u.b;
    }
    if (tmpl__to_float(st, v, &f) < 0) {
        st->fn_err = NULL; /* sprig's cast yields 0 on failure */
        return 0;
    }
    return f;
}

static int f_int(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = tv_int(tmpl__f2i(to_f64(st, a[0])));
    return 0;
}

static int f_float64(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = tv_float(to_f64(st, a[0]));
    return 0;
}

typedef enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_MAX, OP_MIN } arith_t;

static double arith_f(arith_t op, double x, double y)
{
    switch (op) {
    case OP_ADD: return x + y;
    case OP_SUB: return x - y;
    case OP_MUL: return x * y;
    case OP_DIV: return x / y;
    case OP_MOD: return fmod(x, y);
    case OP_MAX: return x > y ? x : y;
    default: return x < y ? x : y;
    }
}

static int arith(tstate_t *st, const tv_t *a, int n, arith_t op, int as_float, tv_t *out)
{
    if (n == 0) { /* sprig: add and addf of nothing are 0 */
        *out = as_float ? tv_float(0) : tv_int(0);
        return 0;
    }
    if (as_float) {
        double acc = to_f64(st, a[0]);
        for (int i = 1; i < n; i++) {
            acc = arith_f(op, acc, to_f64(st, a[i]));
        }
        *out = tv_float(acc);
        return 0;
    }
    int64_t acc = tmpl__f2i(to_f64(st, a[0]));
    for (int i = 1; i < n; i++) {
        int64_t y = tmpl__f2i(to_f64(st, a[i]));
        if ((op == OP_DIV || op == OP_MOD) && y == 0) {
            return tstate_fail(st, "runtime error: integer divide by zero");
        }
        if ((op == OP_DIV || op == OP_MOD) && y == -1) {
            acc = op == OP_DIV ? (int64_t)(0 - (uint64_t)acc) : 0; /* wraps as Go does */
        } else if (op == OP_DIV || op == OP_MOD) {
            acc = op == OP_DIV ? acc / y : acc % y;
        } else if (op == OP_ADD || op == OP_SUB || op == OP_MUL) {
            uint64_t ua = (uint64_t)acc, ub = (uint64_t)y; /* two's complement wrap, as Go */
            acc = (int64_t)(op == OP_ADD ? ua + ub : op == OP_SUB ? ua - ub : ua * ub);
        } else {
            acc = op == OP_MAX ? (acc > y ? acc : y) : (acc < y ? acc : y);
        }
    }
    *out = tv_int(acc);
    return 0;
}

#define ARITH(fname, op, fl)                                                                \
    static int fname(tstate_t *st, const tv_t *a, int n, tv_t *out)                       \
    {                                                                                       \
        return arith(st, a, n, op, fl, out);                                                \
    }
ARITH(f_add, OP_ADD, 0)
ARITH(f_sub, OP_SUB, 0)
ARITH(f_mul, OP_MUL, 0)
ARITH(f_div, OP_DIV, 0)
ARITH(f_mod, OP_MOD, 0)
ARITH(f_max, OP_MAX, 0)
ARITH(f_min, OP_MIN, 0)
ARITH(f_addf, OP_ADD, 1)
ARITH(f_subf, OP_SUB, 1)
ARITH(f_mulf, OP_MUL, 1)
ARITH(f_divf, OP_DIV, 1)
ARITH(f_maxf, OP_MAX, 1)
ARITH(f_minf, OP_MIN, 1)

static int f_ceil(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = tv_float(ceil(to_f64(st, a[0])));
    return 0;
}

static int f_floor(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = tv_float(floor(to_f64(st, a[0])));
    return 0;
}

static int f_round(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    double v = to_f64(st, a[0]), pow10 = pow(10, (double)a[1].u.i);
    double half = n > 2 ? to_f64(st, a[2]) : 0.5;
    double digit = v * pow10;
    double r = digit - floor(digit) >= half ? ceil(digit) : floor(digit);
    *out = tv_float(r / pow10);
    return 0;
}

static int f_default(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    /* sprig's empty(): zero values, empty strings/lists/maps and nil give the default */
    *out = n < 2 || !tv_truth(a[1]) ? a[0] : a[1];
    return 0;
}

/* ---- encodings ------------------------------------------------------------------------ */

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int f_b64enc(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    const unsigned char *p = (const unsigned char *)a[0].u.s.p;
    size_t len = a[0].u.s.n;
    buf_t b;
    buf_init(&b);
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < len ? p[i + 2] : 0);
        buf_putc(&b, b64chars[v >> 18 & 63]);
        buf_putc(&b, b64chars[v >> 12 & 63]);
        buf_putc(&b, i + 1 < len ? b64chars[v >> 6 & 63] : '=');
        buf_putc(&b, i + 2 < len ? b64chars[v & 63] : '=');
    }
    return ret_buf(st, &b, out);
}

static int f_b64dec(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    buf_t b;
    buf_init(&b);
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < a[0].u.s.n; i++) {
        char c = a[0].u.s.p[i];
        const char *pos = c != 0 ? strchr(b64chars, c) : NULL;
        if (c == '=') {
            break;
        }
        if (pos == NULL) {
            /* sprig returns the error text as the result */
            buf_reset(&b);
            buf_printf(&b, "illegal base64 data at input byte %zu", i);
            return ret_buf(st, &b, out);
        }
        acc = acc << 6 | (uint32_t)(pos - b64chars);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf_putc(&b, (char)(acc >> bits & 0xFF));
        }
    }
    return ret_buf(st, &b, out);
}

static int f_urlencode(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    buf_t b;
    buf_init(&b);
    tmpl__query_escape(a[0].u.s.p, a[0].u.s.n, &b);
    return ret_buf(st, &b, out);
}

static int f_urldecode(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    return tmpl__url_unescape(st, a[0], 1, out);
}

static int f_from_json(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    json_error_t jerr;
    json_t *j = json_loadb(a[0].u.s.p, a[0].u.s.n, JSON_DECODE_ANY, &jerr);
    if (j == NULL) {
        *out = tv_nil(); /* sprig's fromJson ignores errors */
        return 0;
    }
    arena_on_free(st->arena, (void (*)(void *))json_decref, j);
    *out = tv_from_json(st->arena, j);
    return 0;
}

/* ---- time ----------------------------------------------------------------------------- */

static int f_line(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = tv_cstr(st->loki_line != NULL ? st->loki_line : "");
    return 0;
}

static int f_timestamp(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = tv_time(st->loki_ts_ns);
    return 0;
}

static int f_now(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = tv_time(st->now_ns);
    return 0;
}

/* sprig's date: time.Time, or unix seconds as an int. */
static int f_date_sprig(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    tv_t t = a[1].kind == TV_TIME ? a[1] : a[1].kind == TV_INT ? tv_time_sec(a[1].u.i, 0)
                                                                : tv_time(st->now_ns);
    buf_t b;
    buf_init(&b);
    tv_time_format(t, cstr(st, a[0]), &b);
    return ret_buf(st, &b, out);
}

static int f_to_date(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    if (tv_time_parse(cstr(st, a[0]), cstr(st, a[1]), out, NULL) < 0) {
        *out = tv_time_sec(TV_ZERO_TIME_SEC, 0);
    }
    return 0;
}

static int f_unix_epoch(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    buf_t b;
    buf_init(&b);
    buf_printf(&b, "%lld", (long long)a[0].u.t.sec);
    return ret_buf(st, &b, out);
}

static int f_unix_epoch_millis(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    buf_t b;
    buf_init(&b);
    buf_printf(&b, "%lld", (long long)(a[0].u.t.sec * 1000 + a[0].u.t.nsec / 1000000));
    return ret_buf(st, &b, out);
}

static int f_unix_epoch_nanos(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    buf_t b;
    buf_init(&b);
    buf_printf(&b, "%lld", (long long)(a[0].u.t.sec * 1000000000LL + a[0].u.t.nsec));
    return ret_buf(st, &b, out);
}

/* unixToTime: 10, 13, 16 or 19 digits = s, ms, µs, ns since the epoch. */
static int f_unix_to_time(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    const char *s = cstr(st, a[0]);
    char *end;
    long long v = strtoll(s, &end, 10);
    size_t len = strlen(s);
    if (*s == 0 || *end != 0) {
        return tstate_fail(st, "strconv.ParseInt: parsing \"%s\": invalid syntax", s);
    }
    switch (len) {
    case 10: *out = tv_time_sec(v, 0); return 0;
    case 13: *out = tv_time(v * 1000000LL); return 0;
    case 16: *out = tv_time(v * 1000LL); return 0;
    case 19: *out = tv_time(v); return 0;
    default: return tstate_fail(st, "unable to parse time '%s'", s);
    }
}

/* Loki's duration / duration_seconds: Go duration string to float seconds. */
static int f_duration(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    int64_t ns;
    err_t derr = {0};
    if (go_duration_parse(cstr(st, a[0]), &ns, &derr) < 0) {
        return tstate_fail(st, "time: invalid duration \"%s\"", cstr(st, a[0]));
    }
    *out = tv_float((double)ns / 1e9);
    return 0;
}

/* Loki's bytes: humanized byte sizes ("1.5 KB", "2MiB") to a number of bytes. */
static int f_bytes(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    static const struct {
        const char *unit;
        double mult;
    } units[] = {{"", 1}, {"b", 1}, {"k", 1e3}, {"kb", 1e3}, {"kib", 1024}, {"ki", 1024},
                 {"m", 1e6}, {"mb", 1e6}, {"mib", 1048576}, {"mi", 1048576}, {"g", 1e9},
                 {"gb", 1e9}, {"gib", 1073741824.0}, {"gi", 1073741824.0}, {"t", 1e12},
                 {"tb", 1e12}, {"tib", 1099511627776.0}, {"ti", 1099511627776.0}};
    const char *s = cstr(st, a[0]);
    char *end;
    double v = strtod(s, &end);
    if (end == s) {
        return tstate_fail(st, "strconv.ParseFloat: parsing \"\": invalid syntax");
    }
    while (*end == ' ') {
        end++;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(end, units[i].unit) == 0) {
            *out = tv_float(v * units[i].mult);
            return 0;
        }
    }
    return tstate_fail(st, "unhandled size name: %s", end);
}

#define S TP_STRING
#define I TP_INT
#define A TP_ANY
const tfunc_t tmpl__loki_funcs[] = {
    {"ToLower", tmpl__f_to_lower, 1, {S}, 0, S, 0},
    {"ToUpper", tmpl__f_to_upper, 1, {S}, 0, S, 0},
    {"Replace", f_replace_go, 4, {S, S, S, I}, 0, S, 0},
    {"Trim", f_trim, 2, {S, S}, 0, S, 0},
    {"TrimLeft", f_trim_left, 2, {S, S}, 0, S, 0},
    {"TrimRight", f_trim_right, 2, {S, S}, 0, S, 0},
    {"TrimPrefix", f_trim_prefix_go, 2, {S, S}, 0, S, 0},
    {"TrimSuffix", f_trim_suffix_go, 2, {S, S}, 0, S, 0},
    {"TrimSpace", tmpl__f_trim_space, 1, {S}, 0, S, 0},
    {"regexReplaceAll", f_regex_replace_all, 3, {S, S, S}, 0, S, 0},
    {"regexReplaceAllLiteral", f_regex_replace_literal, 3, {S, S, S}, 0, S, 0},
    {"count", f_count, 2, {S, S}, 0, S, 0},
    {"lower", tmpl__f_to_lower, 1, {S}, 0, S, 0},
    {"upper", tmpl__f_to_upper, 1, {S}, 0, S, 0},
    {"title", tmpl__f_title, 1, {S}, 0, S, 0},
    {"trunc", f_trunc, 2, {I, S}, 0, S, 0},
    {"substr", f_substr, 3, {I, I, S}, 0, S, 0},
    {"contains", f_contains, 2, {S, S}, 0, S, 0},
    {"hasPrefix", f_has_prefix, 2, {S, S}, 0, S, 0},
    {"hasSuffix", f_has_suffix, 2, {S, S}, 0, S, 0},
    {"indent", f_indent, 2, {I, S}, 0, S, 0},
    {"nindent", f_nindent, 2, {I, S}, 0, S, 0},
    {"replace", f_replace_sprig, 3, {S, S, S}, 0, S, 0},
    {"repeat", f_repeat, 2, {I, S}, 0, S, 0},
    {"trim", tmpl__f_trim_space, 1, {S}, 0, S, 0},
    {"trimAll", f_trim_all, 2, {S, S}, 0, S, 0},
    {"trimPrefix", f_trim_prefix_sprig, 2, {S, S}, 0, S, 0},
    {"trimSuffix", f_trim_suffix_sprig, 2, {S, S}, 0, S, 0},
    {"alignLeft", f_align_left, 2, {I, S}, 0, S, 0},
    {"alignRight", f_align_right, 2, {I, S}, 0, S, 0},
    {"int", f_int, 1, {A}, 0, S, 0},
    {"float64", f_float64, 1, {A}, 0, S, 0},
    {"add", f_add, 0, {A}, 1, A, 0},
    {"sub", f_sub, 2, {A, A}, 0, S, 0},
    {"mul", f_mul, 1, {A}, 1, A, 0},
    {"div", f_div, 2, {A, A}, 0, S, 0},
    {"mod", f_mod, 2, {A, A}, 0, S, 0},
    {"max", f_max, 1, {A}, 1, A, 0},
    {"min", f_min, 1, {A}, 1, A, 0},
    {"addf", f_addf, 0, {A}, 1, A, 0},
    {"subf", f_subf, 1, {A}, 1, A, 0},
    {"mulf", f_mulf, 1, {A}, 1, A, 0},
    {"divf", f_divf, 1, {A}, 1, A, 0},
    {"maxf", f_maxf, 1, {A}, 1, A, 0},
    {"minf", f_minf, 1, {A}, 1, A, 0},
    {"ceil", f_ceil, 1, {A}, 0, S, 0},
    {"floor", f_floor, 1, {A}, 0, S, 0},
    {"round", f_round, 2, {A, I}, 1, A, 0},
    {"default", f_default, 1, {A}, 1, A, 0},
    {"b64enc", f_b64enc, 1, {S}, 0, S, 0},
    {"b64dec", f_b64dec, 1, {S}, 0, S, 0},
    {"urlencode", f_urlencode, 1, {S}, 0, S, 0},
    {"urldecode", f_urldecode, 1, {S}, 0, S, 0},
    {"fromJson", f_from_json, 1, {S}, 0, S, 0},
    {"__line__", f_line, 0, {S}, 0, S, 0},
    {"__timestamp__", f_timestamp, 0, {S}, 0, S, 0},
    {"now", f_now, 0, {S}, 0, S, 0},
    {"date", f_date_sprig, 2, {S, A}, 0, S, 0},
    {"toDate", f_to_date, 2, {S, S}, 0, S, 0},
    {"unixEpoch", f_unix_epoch, 1, {TP_TIME}, 0, S, 0},
    {"unixEpochMillis", f_unix_epoch_millis, 1, {TP_TIME}, 0, S, 0},
    {"unixEpochNanos", f_unix_epoch_nanos, 1, {TP_TIME}, 0, S, 0},
    {"unixToTime", f_unix_to_time, 1, {S}, 0, S, 0},
    {"duration", f_duration, 1, {S}, 0, S, 0},
    {"duration_seconds", f_duration, 1, {S}, 0, S, 0},
    {"bytes", f_bytes, 1, {S}, 0, S, 0},
    {NULL, NULL, 0, {S}, 0, S, 0},
};
