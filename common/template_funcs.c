/* common/template_funcs.c - string and regex functions shared by the Prometheus and
 * Alertmanager sets (toUpper, toLower, title, match, reReplaceAll, safeHtml), Alertmanager's
 * own set (join, stringSlice, trimSpace, safeUrl, urlUnescape, date, tz, since, toJson),
 * and Go's regexp ReplaceAllString template expansion ($1, ${name}). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <locale.h>
#include <pcre2.h>
#include <pthread.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

#include "common/template_int.h"

/* ---- regexes -------------------------------------------------------------------------- */

/* Appends the capture group called `name` (a number or a group name) of the match. */
static void append_group(pcre2_code *re, pcre2_match_data *md, const char *subj,
                         const char *name, size_t name_n, buf_t *out)
{
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    uint32_t count = pcre2_get_ovector_count(md);
    char tmp[64];
    if (name_n == 0 || name_n >= sizeof(tmp)) {
        return;
    }
    memcpy(tmp, name, name_n);
    tmp[name_n] = 0;
    int idx = -1;
    if (strspn(tmp, "0123456789") == name_n) {
        idx = atoi(tmp);
    } else {
        idx = pcre2_substring_number_from_name(re, (PCRE2_SPTR)tmp);
    }
    if (idx < 0 || (uint32_t)idx >= count || ov[2 * idx] == PCRE2_UNSET) {
        return;
    }
    buf_append(out, subj + ov[2 * idx], ov[2 * idx + 1] - ov[2 * idx]);
}

/* Go's Regexp.Expand: $name (longest run of [A-Za-z0-9_]), ${name}, $$. */
static void expand(pcre2_code *re, pcre2_match_data *md, const char *subj, const char *tpl,
                   size_t n, buf_t *out)
{
    for (size_t i = 0; i < n; i++) {
        if (tpl[i] != '$' || i + 1 >= n) {
            buf_putc(out, tpl[i]);
            continue;
        }
        if (tpl[i + 1] == '$') {
            buf_putc(out, '$');
            i++;
            continue;
        }
        size_t start = i + 1, end = start;
        int braced = tpl[start] == '{';
        if (braced) {
            const char *close = memchr(tpl + start, '}', n - start);
            if (close == NULL) {
                buf_putc(out, '$');
                continue;
            }
            end = (size_t)(close - tpl);
            start++;
        } else {
            while (end < n && (isalnum((unsigned char)tpl[end]) || tpl[end] == '_')) {
                end++;
            }
        }
        if (end == start) {
            buf_putc(out, '$');
            continue;
        }
        append_group(re, md, subj, tpl + start, end - start, out);
        i = braced ? end : end - 1;
    }
}

/* ReplaceAllString (literal=0) or ReplaceAllLiteralString (literal=1) of `re` in text. */
int tmpl__re_replace(tstate_t *st, const char *pattern, const char *text, size_t text_n,
                     const char *repl, size_t repl_n, int literal, tv_t *out)
{
    void *code;
    if (tmpl__regex_compile(st, pattern, &code) < 0) {
        return -1;
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
    buf_t b;
    buf_init(&b);
    size_t pos = 0, last_end = 0;
    int last_empty_at = -1;
    while (pos <= text_n) {
        int rc = pcre2_match(code, (PCRE2_SPTR)text, text_n, pos, 0, md, NULL);
        if (rc < 0) {
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        /* Go skips an empty match right after a previous match */
        if (ms == me && (int)ms == last_empty_at) {
            pos = ms + 1;
            continue;
        }
        buf_append(&b, text + last_end, ms - last_end);
        if (literal) {
            buf_append(&b, repl, repl_n);
        } else {
            expand(code, md, text, repl, repl_n, &b);
        }
        last_end = me;
        last_empty_at = (int)me;
        pos = me > ms ? me : me + 1;
        while (me == ms && pos < text_n && ((unsigned char)text[pos] & 0xC0) == 0x80) {
            pos++; /* advance by a whole UTF-8 character */
        }
    }
    if (last_end < text_n) {
        buf_append(&b, text + last_end, text_n - last_end);
    }
    pcre2_match_data_free(md);
    *out = tstate_buf_value(st, &b);
    buf_fini(&b);
    return 0;
}

/* Number of non-overlapping matches (Loki's count), or whether there is one (match). */
int tmpl__re_count(tstate_t *st, const char *pattern, const char *text, size_t n, int first_only,
                   int64_t *count)
{
    void *code;
    if (tmpl__regex_compile(st, pattern, &code) < 0) {
        return -1;
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
    size_t pos = 0;
    *count = 0;
    while (pos <= n && pcre2_match(code, (PCRE2_SPTR)text, n, pos, 0, md, NULL) >= 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        (*count)++;
        if (first_only) {
            break;
        }
        pos = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
    }
    pcre2_match_data_free(md);
    return 0;
}

/* ---- shared string functions ---------------------------------------------------------- */

/* Unicode case mapping through the C.UTF-8 locale's tables (towupper_l is thread-safe;
 * the process locale is left alone). */
static locale_t utf8_locale;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void utf8_init(void)
{
    utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

static int map_case(tstate_t *st, tv_t s, int upper, tv_t *out)
{
    pthread_once(&utf8_once, utf8_init);
    buf_t b;
    buf_init(&b);
    const unsigned char *p = (const unsigned char *)s.u.s.p;
    for (size_t i = 0; i < s.u.s.n;) {
        size_t len = 1;
        int64_t r = p[i] < 0x80 ? p[i] : tmpl__utf8_decode(p + i, s.u.s.n - i, &len);
        if (r < 0 || utf8_locale == (locale_t)0) {
            buf_putc(&b, (char)p[i]); /* invalid UTF-8 is kept as is */
        } else {
            tmpl__utf8_encode((uint32_t)(upper ? towupper_l((wint_t)r, utf8_locale)
                                         : towlower_l((wint_t)r, utf8_locale)),
                        &b);
        }
        i += len;
    }
    *out = tstate_buf_value(st, &b);
    buf_fini(&b);
    return 0;
}

int tmpl__f_to_upper(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    return map_case(st, a[0], 1, out);
}

int tmpl__f_to_lower(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    return map_case(st, a[0], 0, out);
}

int tmpl__f_title(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    buf_t b;
    buf_init(&b);
    tmpl__title(a[0].u.s.p, a[0].u.s.n, &b);
    *out = tstate_buf_value(st, &b);
    buf_fini(&b);
    return 0;
}

int tmpl__f_match(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    int64_t c;
    const char *re = tstate_strdup(st, a[0].u.s.p, a[0].u.s.n);
    if (tmpl__re_count(st, re, a[1].u.s.p, a[1].u.s.n, 1, &c) < 0) {
        return -1;
    }
    *out = tv_bool(c > 0);
    return 0;
}

/* reReplaceAll(pattern, repl, text) of Prometheus and Alertmanager. */
int tmpl__f_re_replace_all(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    const char *re = tstate_strdup(st, a[0].u.s.p, a[0].u.s.n);
    if (tmpl__re_replace(st, re, a[2].u.s.p, a[2].u.s.n, a[1].u.s.p, a[1].u.s.n, 0, out) < 0) {
        /* Go's MustCompile panics; text/template reports the panic value */
        return tstate_fail(st, "regexp: Compile(`%s`): %s", re, st->fn_err + 0);
    }
    return 0;
}

int tmpl__f_safe_html(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = tv_typed(a[0], TVT_SAFEHTML);
    return 0;
}

/* ---- Alertmanager --------------------------------------------------------------------- */

static int f_join(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    buf_t b;
    buf_init(&b);
    for (size_t i = 0; a[1].kind == TV_LIST && a[1].u.list && i < a[1].u.list->n; i++) {
        if (i > 0) {
            buf_append(&b, a[0].u.s.p, a[0].u.s.n);
        }
        tv_t e = a[1].u.list->items[i];
        buf_append(&b, e.u.s.p, e.u.s.n);
    }
    *out = tstate_buf_value(st, &b);
    buf_fini(&b);
    return 0;
}

static int f_string_slice(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    tv_list_t *l = tv_list_new(st->arena, (size_t)n);
    if (l == NULL) {
        return tstate_fail(st, "out of memory");
    }
    memcpy(l->items, a, (size_t)n * sizeof(tv_t));
    *out = tv_typed((tv_t){.kind = TV_LIST, .u.list = l}, TVT_STRSLICE);
    return 0;
}

int tmpl__f_trim_space(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    const char *p = a[0].u.s.p;
    size_t len = a[0].u.s.n;
    while (len > 0 && isspace((unsigned char)*p)) {
        p++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)p[len - 1])) {
        len--;
    }
    *out = tv_str(p, len);
    return 0;
}

static int f_safe_url(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = tv_typed(a[0], TVT_SAFEURL);
    return 0;
}

/* url.QueryUnescape (plus=1: '+' is a space) / url.PathUnescape. */
int tmpl__url_unescape(tstate_t *st, tv_t s, int plus, tv_t *out)
{
    buf_t b;
    buf_init(&b);
    for (size_t i = 0; i < s.u.s.n; i++) {
        char c = s.u.s.p[i];
        if (c == '%') {
            int hi = i + 2 < s.u.s.n + 0 ? buf_hex_digit((unsigned char)s.u.s.p[i + 1]) : -1;
            int lo = hi >= 0 ? buf_hex_digit((unsigned char)s.u.s.p[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                size_t k = s.u.s.n - i < 3 ? s.u.s.n - i : 3;
                buf_fini(&b);
                return tstate_fail(st, "invalid URL escape \"%.*s\"", (int)k, s.u.s.p + i);
            }
            buf_putc(&b, (char)(hi * 16 + lo));
            i += 2;
        } else {
            buf_putc(&b, plus && c == '+' ? ' ' : c);
        }
    }
    *out = tstate_buf_value(st, &b);
    buf_fini(&b);
    return 0;
}

static int f_url_unescape(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    return tmpl__url_unescape(st, a[0], 1, out);
}

static int f_date(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    buf_t b;
    buf_init(&b);
    tv_time_format(a[1], tstate_strdup(st, a[0].u.s.p, a[0].u.s.n), &b);
    *out = tstate_buf_value(st, &b);
    buf_fini(&b);
    return 0;
}

/* tz: only fixed zones are known without a zone database walk: UTC, Local (= UTC here) and
 * the zone names glibc resolves through TZ files are looked up with localtime_r. */
static int f_tz(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    const char *name = tstate_strdup(st, a[0].u.s.p, a[0].u.s.n);
    int32_t off;
    const char *abbr;
    if (tmpl__zone_offset(st, name, a[1].u.t.sec, &off, &abbr) < 0) {
        return tstate_fail(st, "unknown time zone %s", name);
    }
    *out = a[1];
    out->u.t.off_sec = off;
    out->u.t.zone = abbr;
    return 0;
}

static int f_since(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    int64_t now = st->now_ns;
    int64_t t = a[0].u.t.sec * 1000000000LL + a[0].u.t.nsec;
    *out = (tv_t){.kind = TV_DURATION, .u.i = now - t};
    return 0;
}

static int f_to_json(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    buf_t b;
    buf_init(&b);
    tmpl__json_encode(a[0], &b);
    *out = tstate_buf_value(st, &b);
    buf_fini(&b);
    return 0;
}

#define S TP_STRING
const tfunc_t tmpl__am_funcs[] = {
    {"toUpper", tmpl__f_to_upper, 1, {S}, 0, S, 0},
    {"toLower", tmpl__f_to_lower, 1, {S}, 0, S, 0},
    {"title", tmpl__f_title, 1, {S}, 0, S, 0},
    {"trimSpace", tmpl__f_trim_space, 1, {S}, 0, S, 0},
    {"join", f_join, 2, {S, TP_STRLIST}, 0, S, 0},
    {"match", tmpl__f_match, 2, {S, S}, 0, S, 0},
    {"safeHtml", tmpl__f_safe_html, 1, {S}, 0, S, 0},
    {"safeUrl", f_safe_url, 1, {S}, 0, S, 0},
    {"urlUnescape", f_url_unescape, 1, {S}, 0, S, 0},
    {"reReplaceAll", tmpl__f_re_replace_all, 3, {S, S, S}, 0, S, 0},
    {"stringSlice", f_string_slice, 0, {S}, 1, S, 0},
    {"date", f_date, 2, {S, TP_TIME}, 0, S, 0},
    {"tz", f_tz, 2, {S, TP_TIME}, 0, S, 0},
    {"since", f_since, 1, {TP_TIME}, 0, S, 0},
    {"humanizeDuration", tmpl__f_humanize_duration, 1, {TP_ANY}, 0, S, 0},
    {"toJson", f_to_json, 1, {TP_ANY}, 0, S, 0},
    {NULL, NULL, 0, {S}, 0, S, 0},
};
