/* logql/pipeline.c - compiling a selector's stages and running them over entries: the
 * processor's label state, line filters (literal `|=` by memmem, regexes through the
 * shared RE2-compatible matchers), label filters, formatters, drop/keep, unwrap, and the
 * interning of output label sets. See pipeline_int.h for the memory design. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/hashmap.h"
#include "common/mem.h"
#include "common/timeutil.h"
#include "logql/pipeline_int.h"

/* ---- label state ------------------------------------------------------------------------- */

static const char *str_at(const logql_proc_t *pr, size_t off)
{
    return pr->strs.data + off;
}

/* Copies s[0..n) plus NUL into strs; s may point into strs itself. */
static size_t put_str(logql_proc_t *pr, const char *s, size_t n)
{
    size_t inside = pr->strs.data != NULL && s >= pr->strs.data && s < pr->strs.data + pr->strs.cap;
    size_t rel = inside ? (size_t)(s - pr->strs.data) : 0;
    buf_reserve(&pr->strs, n + 1);
    if (inside) {
        s = pr->strs.data + rel;
    }
    size_t off = pr->strs.len;
    memmove(pr->strs.data + off, s, n);
    pr->strs.data[off + n] = '\0';
    pr->strs.len += n + 1;
    return off;
}

static long find_parsed(const logql_proc_t *pr, const char *name, size_t nlen)
{
    for (size_t i = 0; i < pr->n_parsed; i++) {
        const char *pn = str_at(pr, pr->parsed[i].name);
        if (strncmp(pn, name, nlen) == 0 && pn[nlen] == '\0') {
            return (long)i;
        }
    }
    return -1;
}

static long find_md(const logql_proc_t *pr, const char *name, size_t nlen)
{
    for (size_t i = 0; i < pr->n_md; i++) {
        if (strncmp(pr->md[i].name, name, nlen) == 0 && pr->md[i].name[nlen] == '\0') {
            return (long)i;
        }
    }
    return -1;
}

static long find_stream(const logql_proc_t *pr, const char *name, size_t nlen)
{
    for (size_t i = 0; i < pr->n_stream; i++) {
        label_t l = labels_at(pr->stream, i);
        if (strncmp(l.name, name, nlen) == 0 && l.name[nlen] == '\0') {
            return (long)i;
        }
    }
    return -1;
}

const char *logql__get(logql_proc_t *pr, const char *name)
{
    size_t n = strlen(name);
    long i = find_parsed(pr, name, n);
    if (i >= 0) {
        return str_at(pr, pr->parsed[i].value);
    }
    if ((i = find_md(pr, name, n)) >= 0 && !pr->del_md[i]) {
        return pr->md[i].value;
    }
    if ((i = find_stream(pr, name, n)) >= 0 && !pr->del_stream[i]) {
        return labels_at(pr->stream, (size_t)i).value;
    }
    return NULL;
}

int logql__base_has(const logql_proc_t *pr, const char *name, size_t nlen)
{
    return find_stream(pr, name, nlen) >= 0 || find_md(pr, name, nlen) >= 0;
}

void logql__set(logql_proc_t *pr, const char *name, size_t nlen, const char *val, size_t vlen)
{
    size_t noff = put_str(pr, name, nlen);
    size_t voff = put_str(pr, val, vlen);
    long i = find_parsed(pr, str_at(pr, noff), nlen);
    if (i < 0) {
        if (pr->n_parsed == pr->cap_parsed) {
            xgrow((void **)&pr->parsed, &pr->cap_parsed, pr->n_parsed + 1, sizeof(*pr->parsed));
        }
        i = (long)pr->n_parsed++;
    }
    pr->parsed[i] = (lq_plabel_t){.name = noff, .value = voff, .is_parsed = 1};
}

void logql__del(logql_proc_t *pr, const char *name)
{
    size_t n = strlen(name);
    if (strcmp(name, "__error__") == 0) {
        pr->err_off = -1;
        return;
    }
    if (strcmp(name, "__error_details__") == 0) {
        pr->det_off = -1;
        return;
    }
    long i = find_parsed(pr, name, n);
    if (i >= 0) {
        pr->parsed[i] = pr->parsed[--pr->n_parsed];
    }
    if ((i = find_md(pr, name, n)) >= 0) {
        pr->del_md[i] = 1;
    }
    if ((i = find_stream(pr, name, n)) >= 0) {
        pr->del_stream[i] = 1;
    }
}

void logql__set_err(logql_proc_t *pr, const char *err, const char *details)
{
    if (pr->err_off >= 0) {
        return;
    }
    pr->err_off = (long)put_str(pr, err, strlen(err));
    if (details != NULL) {
        pr->det_off = (long)put_str(pr, details, strlen(details));
    }
}

/* ---- the line ---------------------------------------------------------------------------- */

const char *logql__line_cstr(logql_proc_t *pr)
{
    if (pr->line_is_cstr) {
        return pr->line;
    }
    buf_t *b = logql__line_begin(pr);
    buf_append(b, pr->line, pr->len);
    logql__line_commit(pr);
    return pr->line;
}

buf_t *logql__line_begin(logql_proc_t *pr)
{
    buf_t *b = &pr->lines[pr->line_buf == 0 ? 1 : 0];
    buf_reset(b);
    buf_reserve(b, 1);
    return b;
}

void logql__line_commit(logql_proc_t *pr)
{
    pr->line_buf = pr->line_buf == 0 ? 1 : 0;
    buf_t *b = &pr->lines[pr->line_buf];
    buf_reserve(b, 1);
    b->data[b->len] = '\0';
    pr->line = b->data;
    pr->len = b->len;
    pr->line_is_cstr = 1;
}

/* ---- current and output labels ----------------------------------------------------------- */

static void pairs_reserve(logql_proc_t *pr, size_t n)
{
    if (n > pr->cap_pairs) {
        xgrow((void **)&pr->pairs, &pr->cap_pairs, n, sizeof(*pr->pairs));
    }
}

/* Appends the labels of one category to pr->pairs from index *n. */
static void add_pairs(logql_proc_t *pr, size_t *n, int which)
{
    if (which == 0) {
        for (size_t i = 0; i < pr->n_stream; i++) {
            label_t l = labels_at(pr->stream, i);
            if (!pr->del_stream[i] && find_parsed(pr, l.name, strlen(l.name)) < 0 &&
                find_md(pr, l.name, strlen(l.name)) < 0) {
                pr->pairs[(*n)++] = l;
            }
        }
    } else if (which == 1) {
        for (size_t i = 0; i < pr->n_md; i++) {
            if (!pr->del_md[i] && find_parsed(pr, pr->md[i].name, strlen(pr->md[i].name)) < 0) {
                pr->pairs[(*n)++] = pr->md[i];
            }
        }
    } else {
        for (size_t i = 0; i < pr->n_parsed; i++) {
            const char *name = str_at(pr, pr->parsed[i].name);
            /* A field called __error__ must not duplicate the error label itself. */
            if ((pr->err_off >= 0 && strcmp(name, "__error__") == 0) ||
                (pr->det_off >= 0 && strcmp(name, "__error_details__") == 0)) {
                continue;
            }
            pr->pairs[(*n)++] = (label_t){name, str_at(pr, pr->parsed[i].value)};
        }
    }
}

static size_t add_errors(logql_proc_t *pr, size_t n)
{
    if (pr->err_off >= 0) {
        pr->pairs[n++] = (label_t){"__error__", str_at(pr, (size_t)pr->err_off)};
    }
    if (pr->det_off >= 0) {
        pr->pairs[n++] = (label_t){"__error_details__", str_at(pr, (size_t)pr->det_off)};
    }
    return n;
}

size_t logql__current_labels(logql_proc_t *pr, int with_errors)
{
    size_t n = 0;
    pairs_reserve(pr, pr->n_stream + pr->n_md + pr->n_parsed + 2);
    for (int w = 0; w < 3; w++) {
        add_pairs(pr, &n, w);
    }
    return with_errors ? add_errors(pr, n) : n;
}

static int pair_cmp(const void *x, const void *y)
{
    return strcmp(((const label_t *)x)->name, ((const label_t *)y)->name);
}

static uint64_t pairs_hash(const label_t *ps, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; i++) {
        if (ps[i].value[0] == '\0') {
            continue; /* empty means absent, as in the label set */
        }
        h = hash_bytes(ps[i].name, strlen(ps[i].name) + 1, h);
        h = hash_bytes(ps[i].value, strlen(ps[i].value) + 1, h);
    }
    return h;
}

static int pairs_equal(const labels_t *ls, const label_t *ps, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (ps[i].value[0] == '\0') {
            continue;
        }
        if (j >= labels_len(ls)) {
            return 0;
        }
        label_t l = labels_at(ls, j++);
        if (strcmp(l.name, ps[i].name) != 0 || strcmp(l.value, ps[i].value) != 0) {
            return 0;
        }
    }
    return j == labels_len(ls);
}

static void slots_grow(logql_proc_t *pr)
{
    size_t cap = pr->n_slots ? pr->n_slots * 2 : 64;
    lq_slot_t *ns = arena_calloc(pr->a, cap * sizeof(*ns));
    if (ns == NULL) {
        return;
    }
    for (size_t i = 0; i < pr->n_slots; i++) {
        if (pr->slots[i].ls == NULL) {
            continue;
        }
        size_t k = pr->slots[i].hash & (cap - 1);
        while (ns[k].ls != NULL) {
            k = (k + 1) & (cap - 1);
        }
        ns[k] = pr->slots[i];
    }
    pr->slots = ns;
    pr->n_slots = cap;
}

/* The interned set equal to the sorted pairs; allocates only for a new distinct set. */
static const labels_t *intern(logql_proc_t *pr, const label_t *ps, size_t n)
{
    if (n == 0) {
        return labels_empty();
    }
    if (pr->used_slots * 2 >= pr->n_slots) {
        slots_grow(pr);
    }
    uint64_t h = pairs_hash(ps, n);
    size_t k = h & (pr->n_slots - 1);
    for (; pr->slots[k].ls != NULL; k = (k + 1) & (pr->n_slots - 1)) {
        if (pr->slots[k].hash == h && pairs_equal(pr->slots[k].ls, ps, n)) {
            return pr->slots[k].ls;
        }
    }
    err_t e = {0};
    labels_t *ls = labels_new_arena(pr->a, ps, n, &e);
    if (ls == NULL) {
        return labels_empty();
    }
    pr->slots[k] = (lq_slot_t){.hash = h, .ls = ls};
    pr->used_slots++;
    return ls;
}

/* Sorts pr->pairs[0..n) by name and keeps one of equal names (metadata pushed with a
 * repeated name); returns the new count. */
static size_t sort_pairs(logql_proc_t *pr, size_t n)
{
    qsort(pr->pairs, n, sizeof(*pr->pairs), pair_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k > 0 && strcmp(pr->pairs[k - 1].name, pr->pairs[i].name) == 0) {
            k--;
        }
        pr->pairs[k++] = pr->pairs[i];
    }
    return k;
}

static void build_output(logql_proc_t *pr, logql_out_t *out)
{
    size_t n = logql__current_labels(pr, 1);
    out->labels = intern(pr, pr->pairs, sort_pairs(pr, n));
    size_t m = 0;
    add_pairs(pr, &m, 1);
    out->metadata = intern(pr, pr->pairs, sort_pairs(pr, m));
    size_t q = 0;
    add_pairs(pr, &q, 2);
    out->parsed = intern(pr, pr->pairs, sort_pairs(pr, q));
}

/* ---- line filters ------------------------------------------------------------------------ */

static int match_arg(logql_proc_t *pr, const lq_cstage_t *cs, size_t i)
{
    const lq_line_arg_t *arg = &cs->src->args[i];
    if (cs->ip[i] != NULL) {
        return logql__ip_match_line(cs->ip[i], pr->line, pr->len);
    }
    switch (cs->src->op) {
    case LQ_LINE_RE:
    case LQ_LINE_NRE:
        if (cs->re[i] == NULL) { /* a regex without metacharacters is a substring */
            return arg->len == 0 || memmem(pr->line, pr->len, arg->match, arg->len) != NULL;
        }
        return matcher_matches(cs->re[i], logql__line_cstr(pr));
    case LQ_LINE_PATTERN:
    case LQ_LINE_NPATTERN: return logql__pattern_test(cs->pat[i], pr->line, pr->len);
    default: return arg->len == 0 || memmem(pr->line, pr->len, arg->match, arg->len) != NULL;
    }
}

static int run_line_filter(logql_proc_t *pr, const lq_cstage_t *cs)
{
    int neg =
        cs->src->op == LQ_LINE_NEQ || cs->src->op == LQ_LINE_NRE || cs->src->op == LQ_LINE_NPATTERN;
    for (size_t i = 0; i < cs->src->n_args; i++) {
        if (match_arg(pr, cs, i)) {
            return !neg;
        }
    }
    return neg;
}

/* ---- label filters ----------------------------------------------------------------------- */

static int cmp_apply(lq_cmp_t c, double l, double r)
{
    switch (c) {
    case CMP_EQ: return l == r;
    case CMP_NEQ: return l != r;
    case CMP_GT: return l > r;
    case CMP_GTE: return l >= r;
    case CMP_LT: return l < r;
    default: return l <= r;
    }
}

static const char *lf_value(logql_proc_t *pr, const char *name)
{
    if (strcmp(name, "__error__") == 0) {
        return pr->err_off >= 0 ? str_at(pr, (size_t)pr->err_off) : "";
    }
    const char *v = logql__get(pr, name);
    return v != NULL ? v : "";
}

/* Parses a label value for a numeric/duration/bytes filter; sets LabelFilterErr on failure
 * (then the entry passes, as in Loki). 1: *out set; 0: failed. */
static int lf_convert(logql_proc_t *pr, const lq_lf_t *lf, const char *v, double *out)
{
    char msg[300];
    if (lf->kind == LF_NUMERIC) {
        char *end = NULL;
        *out = strtod(v, &end);
        if (*v != '\0' && end != NULL && *end == '\0') {
            return 1;
        }
        snprintf(msg, sizeof(msg), "strconv.ParseFloat: parsing \"%s\": invalid syntax", v);
    } else if (lf->kind == LF_DURATION) {
        int64_t ns = 0;
        err_t e = {0};
        if (go_duration_parse(v, &ns, &e) == 0) {
            *out = (double)ns;
            return 1;
        }
        snprintf(msg, sizeof(msg), "time: invalid duration \"%s\"", v);
    } else {
        uint64_t b = 0;
        if (logql__parse_bytes(v, strlen(v), &b) == 0) {
            *out = (double)b;
            return 1;
        }
        snprintf(msg, sizeof(msg), "strconv.ParseFloat: parsing \"%s\": invalid syntax", v);
    }
    logql__set_err(pr, "LabelFilterErr", msg);
    return 0;
}

static double lf_target(const lq_lf_t *lf)
{
    return lf->kind == LF_NUMERIC    ? lf->num
           : lf->kind == LF_DURATION ? (double)lf->dur_ns
                                     : (double)lf->bytes;
}

static int run_lf(logql_proc_t *pr, const lq_lf_t *lf)
{
    switch (lf->kind) {
    case LF_MATCHER: return matcher_matches(lf->m, lf_value(pr, lf->name));
    case LF_IP: {
        /* As Loki: after an error only string matchers filter; the value is searched for
         * addresses like a line. */
        if (pr->err_off >= 0) {
            return 1;
        }
        const char *v = logql__get(pr, lf->name);
        int hit = v != NULL && logql__ip_match_line(lf->ipm, v, strlen(v));
        return v != NULL && (lf->cmp == CMP_EQ ? hit : !hit);
    }
    case LF_AND: {
        int l = run_lf(pr, lf->l);
        int r = run_lf(pr, lf->r);
        return l && r;
    }
    case LF_OR: return run_lf(pr, lf->l) || run_lf(pr, lf->r);
    default: {
        const char *v = logql__get(pr, lf->name);
        double d = 0;
        if (v == NULL) {
            return 0;
        }
        if (!lf_convert(pr, lf, v, &d)) {
            return 1;
        }
        return cmp_apply(lf->cmp, d, lf_target(lf));
    }
    }
}

/* ---- formatters and label stages --------------------------------------------------------- */

static void run_line_fmt(logql_proc_t *pr, const lq_cstage_t *cs)
{
    size_t n = logql__current_labels(pr, 1);
    const char *line = logql__line_cstr(pr);
    buf_reset(&pr->scratch);
    err_t e = {0};
    if (tmpl_execute_loki(cs->tmpl, pr->pairs, n, line, pr->ts_ns, NULL, &pr->scratch, &e) != 0) {
        logql__set_err(pr, "TemplateFormatErr", e.msg);
        return;
    }
    buf_t *b = logql__line_begin(pr);
    buf_append(b, pr->scratch.data != NULL ? pr->scratch.data : "", pr->scratch.len);
    logql__line_commit(pr);
}

static void run_label_fmt(logql_proc_t *pr, const lq_cstage_t *cs)
{
    for (size_t i = 0; i < cs->src->n_items; i++) {
        const lq_named_t *it = &cs->src->items[i];
        if (it->rename) {
            const char *v = logql__get(pr, it->value);
            if (v != NULL) {
                logql__set(pr, it->name, strlen(it->name), v, strlen(v));
                logql__del(pr, it->value);
            }
            continue;
        }
        size_t n = logql__current_labels(pr, 1);
        buf_reset(&pr->scratch);
        err_t e = {0};
        if (tmpl_execute_loki(cs->tmpls[i], pr->pairs, n, logql__line_cstr(pr), pr->ts_ns, NULL,
                              &pr->scratch, &e) != 0) {
            logql__set_err(pr, "TemplateFormatErr", e.msg);
            continue;
        }
        logql__set(pr, it->name, strlen(it->name), pr->scratch.data != NULL ? pr->scratch.data : "",
                   pr->scratch.len);
    }
}

static int named_hit(logql_proc_t *pr, const lq_named_t *it, const char *name)
{
    if (strcmp(it->name, name) != 0) {
        return 0;
    }
    return it->m == NULL || matcher_matches(it->m, lf_value(pr, name));
}

static void run_drop(logql_proc_t *pr, const lq_cstage_t *cs)
{
    for (size_t i = 0; i < cs->src->n_items; i++) {
        const lq_named_t *it = &cs->src->items[i];
        if (named_hit(pr, it, it->name)) {
            logql__del(pr, it->name);
        }
    }
}

static int is_special(const char *name)
{
    return strcmp(name, "__error__") == 0 || strcmp(name, "__error_details__") == 0 ||
           strcmp(name, "__preserve_error__") == 0;
}

static void run_keep(logql_proc_t *pr, const lq_cstage_t *cs)
{
    size_t n = logql__current_labels(pr, 0);
    /* Names first: deleting while walking pr->pairs would invalidate it. */
    buf_reset(&pr->scratch);
    for (size_t i = 0; i < n; i++) {
        int keep = is_special(pr->pairs[i].name);
        for (size_t k = 0; !keep && k < cs->src->n_items; k++) {
            keep = named_hit(pr, &cs->src->items[k], pr->pairs[i].name);
        }
        if (!keep) {
            buf_append(&pr->scratch, pr->pairs[i].name, strlen(pr->pairs[i].name) + 1);
        }
    }
    for (size_t off = 0; off < pr->scratch.len; off += strlen(pr->scratch.data + off) + 1) {
        logql__del(pr, pr->scratch.data + off);
    }
}

/* ---- unwrap ------------------------------------------------------------------------------ */

static int unwrap_convert(const lq_unwrap_t *u, const char *v, double *out, char *msg, size_t n)
{
    if (u->conv == LQ_CONV_DURATION || u->conv == LQ_CONV_DURATION_SECONDS) {
        int64_t ns = 0;
        err_t e = {0};
        if (go_duration_parse(v, &ns, &e) == 0) {
            *out = (double)ns / 1e9;
            return 0;
        }
        snprintf(msg, n, "time: invalid duration \"%s\"", v);
        return -1;
    }
    if (u->conv == LQ_CONV_BYTES) {
        uint64_t b = 0;
        int rc = logql__parse_bytes(v, strlen(v), &b);
        if (rc == 0) {
            *out = (double)b;
            return 0;
        }
        snprintf(msg, n,
                 rc == -1 ? "strconv.ParseFloat: parsing \"%s\": invalid syntax"
                          : "unhandled size name: %s",
                 v);
        return -1;
    }
    char *end = NULL;
    *out = strtod(v, &end);
    if (end != NULL && *end == '\0') {
        return 0;
    }
    snprintf(msg, n, "strconv.ParseFloat: parsing \"%s\": invalid syntax", v);
    return -1;
}

/* 1 kept, 0 dropped (no value: Loki skips the entry). */
static int run_unwrap(logql_proc_t *pr, const lq_unwrap_t *u, logql_out_t *out)
{
    const char *v = logql__get(pr, u->name);
    char msg[300];
    if (v == NULL || *v == '\0') {
        return 0;
    }
    out->value = 0;
    if (unwrap_convert(u, v, &out->value, msg, sizeof(msg)) != 0) {
        out->value = 0;
        logql__set_err(pr, "SampleExtractionErr", msg);
    }
    for (size_t i = 0; i < u->n_post; i++) {
        if (!run_lf(pr, u->post[i])) {
            return 0;
        }
    }
    return 1;
}

/* ---- the run loop ------------------------------------------------------------------------ */

static int run_stage(logql_proc_t *pr, const lq_cstage_t *cs)
{
    switch (cs->kind) {
    case ST_LINE_FILTER: return run_line_filter(pr, cs);
    case ST_LABEL_FILTER: return run_lf(pr, cs->src->lf);
    case ST_JSON: logql__run_json(pr, cs); return 1;
    case ST_LOGFMT: logql__run_logfmt(pr, cs); return 1;
    case ST_REGEXP: logql__run_regexp(pr, cs); return 1;
    case ST_PATTERN: logql__run_pattern(pr, cs); return 1;
    case ST_UNPACK: return logql__run_unpack(pr);
    case ST_LINE_FMT: run_line_fmt(pr, cs); return 1;
    case ST_LABEL_FMT: run_label_fmt(pr, cs); return 1;
    case ST_DROP: run_drop(pr, cs); return 1;
    case ST_KEEP: run_keep(pr, cs); return 1;
    case ST_DECOLORIZE: logql__decolorize(pr); return 1;
    }
    return 1;
}

/* The line only: enough for the leading line filters, which run before any label state
 * is touched. */
static void reset_line(logql_proc_t *pr, const log_entry_t *entry)
{
    pr->line = entry->line;
    pr->len = entry->len;
    pr->line_buf = -1;
    pr->line_is_cstr = 0;
}

static void reset_labels(logql_proc_t *pr, const labels_t *stream, const log_entry_t *entry)
{
    pr->stream = stream;
    pr->n_stream = labels_len(stream);
    pr->md = entry->metadata;
    pr->n_md = entry->metadata != NULL ? entry->n_metadata : 0;
    pr->ts_ns = entry->ts_ns;
    if (pr->n_stream > pr->cap_del_stream) {
        xgrow((void **)&pr->del_stream, &pr->cap_del_stream, pr->n_stream, 1);
    }
    if (pr->n_md > pr->cap_del_md) {
        xgrow((void **)&pr->del_md, &pr->cap_del_md, pr->n_md, 1);
    }
    if (pr->n_stream > 0) {
        memset(pr->del_stream, 0, pr->n_stream);
    }
    if (pr->n_md > 0) {
        memset(pr->del_md, 0, pr->n_md);
    }
    buf_reset(&pr->strs);
    pr->n_parsed = 0;
    pr->err_off = pr->det_off = -1;
}

int logql_proc_run(logql_proc_t *pr, const labels_t *stream, const log_entry_t *entry,
                   logql_out_t *out)
{
    const logql_pipeline_t *p = pr->p;
    size_t i = 0;
    reset_line(pr, entry);
    for (; i < p->n_stages && p->stages[i].kind == ST_LINE_FILTER; i++) {
        if (!run_line_filter(pr, &p->stages[i])) {
            return 0;
        }
    }
    reset_labels(pr, stream, entry);
    for (; i < p->n_stages; i++) {
        if (!run_stage(pr, &p->stages[i])) {
            return 0;
        }
    }
    out->value = 0;
    if (p->unwrap != NULL && !run_unwrap(pr, p->unwrap, out)) {
        return 0;
    }
    out->line = pr->line;
    out->len = pr->len;
    if (p->filter_only && pr->n_md == 0) {
        out->labels = stream;
        out->metadata = out->parsed = labels_empty();
        return 1;
    }
    build_output(pr, out);
    return 1;
}

static void proc_cleanup(void *arg)
{
    logql_proc_t *pr = arg;
    buf_fini(&pr->strs);
    buf_fini(&pr->lines[0]);
    buf_fini(&pr->lines[1]);
    buf_fini(&pr->scratch);
    buf_fini(&pr->keybuf);
    buf_fini(&pr->unqbuf);
    free(pr->parsed);
    free(pr->pairs);
    free(pr->del_stream);
    free(pr->del_md);
    if (pr->match != NULL) {
        pcre2_match_data_free(pr->match);
    }
}

logql_proc_t *logql_proc_new(arena_t *a, const logql_pipeline_t *p)
{
    logql_proc_t *pr = arena_calloc(a, sizeof(*pr));
    if (pr == NULL) {
        return NULL;
    }
    pr->a = a;
    pr->p = p;
    buf_init(&pr->strs);
    buf_init(&pr->lines[0]);
    buf_init(&pr->lines[1]);
    buf_init(&pr->scratch);
    buf_init(&pr->keybuf);
    buf_init(&pr->unqbuf);
    pr->match = pcre2_match_data_create(32, NULL);
    if (arena_on_free(a, proc_cleanup, pr) != 0) {
        proc_cleanup(pr);
        return NULL;
    }
    return pr;
}

int logql_pipeline_is_filter_only(const logql_pipeline_t *p)
{
    return p->filter_only;
}

/* ---- compiling --------------------------------------------------------------------------- */

static int compile_line_filter(arena_t *a, lq_cstage_t *cs, err_t *err)
{
    const lq_stage_t *st = cs->src;
    cs->re = arena_calloc(a, st->n_args * sizeof(*cs->re));
    cs->pat = arena_calloc(a, st->n_args * sizeof(*cs->pat));
    cs->ip = arena_calloc(a, st->n_args * sizeof(*cs->ip));
    if (cs->re == NULL || cs->pat == NULL || cs->ip == NULL) {
        return -1;
    }
    for (size_t i = 0; i < st->n_args; i++) {
        const lq_line_arg_t *arg = &st->args[i];
        if (arg->is_ip) {
            cs->ip[i] = logql__ip_new(a, arg->match, err);
            if (cs->ip[i] == NULL) {
                return -1;
            }
        } else if ((st->op == LQ_LINE_RE || st->op == LQ_LINE_NRE) &&
                   strpbrk(arg->match, "\\.+*?()[]{}^$|") == NULL) {
            continue; /* plain text: matched with memmem */
        } else if (st->op == LQ_LINE_RE || st->op == LQ_LINE_NRE) {
            /* Go's unanchored search as a fully anchored matcher: anything around the
             * user's regex, whose own `.` (as in Go without (?s)) stops at a newline. The
             * user's text is compiled alone first so an error quotes it unchanged. */
            err_t e = {0};
            char *re = arena_sprintf(a, "(?s:.*)(?:%s)(?s:.*)", arg->match);
            if (matcher_new_arena(a, MATCH_RE, "line", arg->match, &e) == NULL) {
                return err_set(err, ERR_BAD_DATA, "parse error : %s", e.msg);
            }
            cs->re[i] =
                re != NULL ? matcher_new_arena_flags(a, MATCH_RE, "line", re, MATCHER_AM_REGEX, err)
                           : NULL;
            if (cs->re[i] == NULL) {
                return -1;
            }
        } else if (st->op == LQ_LINE_PATTERN || st->op == LQ_LINE_NPATTERN) {
            cs->pat[i] = logql__pattern_new(a, arg->match, 1, err);
            if (cs->pat[i] == NULL) {
                return -1;
            }
        }
    }
    return 0;
}

static int compile_lf(arena_t *a, lq_lf_t *lf, err_t *err)
{
    if (lf->kind == LF_AND || lf->kind == LF_OR) {
        return compile_lf(a, lf->l, err) == 0 ? compile_lf(a, lf->r, err) : -1;
    }
    if (lf->kind == LF_IP) {
        lf->ipm = logql__ip_new(a, lf->ip, err);
        return lf->ipm != NULL ? 0 : -1;
    }
    return 0;
}

static void tmpl_release(void *t)
{
    tmpl_unref(t);
}

static tmpl_t *compile_tmpl(arena_t *a, const char *text, err_t *err)
{
    tmpl_t *t = tmpl_new("line", TMPL_FUNCS_LOKI);
    err_t e = {0};
    if (tmpl_parse(t, "line", text, &e) != 0) {
        tmpl_unref(t);
        err_set(err, ERR_BAD_DATA, "parse error : %s", e.msg);
        return NULL;
    }
    if (arena_on_free(a, tmpl_release, t) != 0) {
        tmpl_unref(t);
        return NULL;
    }
    return t;
}

static int compile_label_fmt(arena_t *a, lq_cstage_t *cs, err_t *err)
{
    const lq_stage_t *st = cs->src;
    cs->tmpls = arena_calloc(a, (st->n_items + 1) * sizeof(*cs->tmpls));
    if (cs->tmpls == NULL) {
        return -1;
    }
    for (size_t i = 0; i < st->n_items; i++) {
        for (size_t k = 0; k < i; k++) {
            if (strcmp(st->items[k].name, st->items[i].name) == 0) {
                err_set(err, ERR_BAD_DATA,
                        "parse error : multiple label name '%s' not allowed in a "
                        "single format operation",
                        st->items[i].name);
                return -1;
            }
        }
        if (!st->items[i].rename &&
            (cs->tmpls[i] = compile_tmpl(a, st->items[i].value, err)) == NULL) {
            return -1;
        }
    }
    return 0;
}

static int compile_stage(arena_t *a, lq_cstage_t *cs, err_t *err)
{
    switch (cs->kind) {
    case ST_LINE_FILTER: return compile_line_filter(a, cs, err);
    case ST_LABEL_FILTER: return compile_lf(a, cs->src->lf, err);
    case ST_REGEXP: return logql__compile_regexp(a, cs, err);
    case ST_PATTERN:
        cs->pattern = logql__pattern_new(a, cs->src->text, 0, err);
        return cs->pattern != NULL ? 0 : -1;
    case ST_JSON:
    case ST_LOGFMT: return logql__compile_extractions(a, cs, err);
    case ST_LINE_FMT:
        cs->tmpl = compile_tmpl(a, cs->src->text, err);
        return cs->tmpl != NULL ? 0 : -1;
    case ST_LABEL_FMT: return compile_label_fmt(a, cs, err);
    default: return 0;
    }
}

/* Loki's reorderStages: a line filter moves ahead of parsers and label stages that do not
 * change the line, so it runs before any label work; line_format and unpack (which rewrite
 * the line) and label filters (whose order is kept) are barriers. As in Loki, decolorize
 * is not a barrier. Fills order[] with stage indexes in execution order. */
static void reorder_stages(const lq_sel_t *s, size_t *order, size_t *lines, size_t *others)
{
    size_t n = 0, nl = 0, no = 0;
    for (size_t i = 0; i <= s->n_stages; i++) {
        lq_stage_kind_t k = i < s->n_stages ? s->stages[i].kind : ST_LABEL_FILTER;
        if (k == ST_LINE_FILTER) {
            lines[nl++] = i;
            continue;
        }
        if (k != ST_LABEL_FILTER) {
            others[no++] = i;
            if (k != ST_LINE_FMT && k != ST_UNPACK) {
                continue;
            }
        }
        memcpy(order + n, lines, nl * sizeof(*order));
        memcpy(order + n + nl, others, no * sizeof(*order));
        n += nl + no;
        nl = no = 0;
        if (k == ST_LABEL_FILTER && i < s->n_stages) {
            order[n++] = i;
        }
    }
}

int logql__pipeline_compile(arena_t *a, lq_sel_t *s, err_t *err)
{
    logql_pipeline_t *p = arena_calloc(a, sizeof(*p));
    if (p == NULL) {
        return -1;
    }
    p->stages = arena_calloc(a, (s->n_stages + 1) * sizeof(*p->stages));
    if (p->stages == NULL) {
        return -1;
    }
    size_t *order = arena_alloc(a, 3 * (s->n_stages + 1) * sizeof(size_t));
    if (order == NULL) {
        return -1;
    }
    reorder_stages(s, order, order + s->n_stages + 1, order + 2 * (s->n_stages + 1));
    p->n_stages = s->n_stages;
    p->unwrap = s->unwrap;
    p->filter_only = s->unwrap == NULL;
    for (size_t i = 0; i < s->n_stages; i++) {
        lq_cstage_t *cs = &p->stages[i];
        cs->kind = s->stages[order[i]].kind;
        cs->src = &s->stages[order[i]];
        if (cs->kind != ST_LINE_FILTER) {
            p->filter_only = 0;
        }
        if (compile_stage(a, cs, err) != 0) {
            if (!err_is_set(err)) {
                err_set(err, ERR_EXECUTION, "out of memory compiling the pipeline");
            }
            return -1;
        }
    }
    if (s->unwrap != NULL) {
        for (size_t i = 0; i < s->unwrap->n_post; i++) {
            if (compile_lf(a, s->unwrap->post[i], err) != 0) {
                return -1;
            }
        }
    }
    s->pipeline = p;
    return 0;
}
