/* logql/api_json.c - response bodies of Loki's query API, streamed with jsonw in Loki's
 * field order (pkg/util/marshal/query.go): streams values [["<ns>","line"(,{categorized})]],
 * matrix/vector/scalar points [<seconds>,"<value>"], and the always-present `stats`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"
#include "common/timeutil.h"
#include "logql/api_int.h"

void logql__api_time_s(int64_t ms, char *out, size_t n)
{
    /* model.Time.String(): FormatFloat(ms/1000, 'f', -1): shortest decimals, no padding */
    int64_t s = ms / 1000, frac = ms % 1000;
    if (frac < 0) {
        frac = -frac;
    }
    const char *sign = ms < 0 && s == 0 ? "-" : "";
    if (frac == 0) {
        snprintf(out, n, "%s%lld", sign, (long long)s);
        return;
    }
    char dec[4];
    snprintf(dec, sizeof(dec), "%03lld", (long long)frac);
    for (int i = 2; i > 0 && dec[i] == '0'; i--) {
        dec[i] = '\0';
    }
    snprintf(out, n, "%s%lld.%s", sign, (long long)s, dec);
}

static void write_point(jsonw_t *w, int64_t t_ms, double v)
{
    char ts[48], val[340];
    logql__api_time_s(t_ms, ts, sizeof(ts));
    prom_float_format(v, val, sizeof(val));
    jsonw_arr_begin(w);
    jsonw_raw(w, ts);
    jsonw_str(w, val);
    jsonw_arr_end(w);
}

/* ---- streams ------------------------------------------------------------------------- */

void logql__api_write_entry(jsonw_t *w, const logql_entry_t *e, int categorize)
{
    char ts[24];
    snprintf(ts, sizeof(ts), "%lld", (long long)e->ts_ns);
    jsonw_arr_begin(w);
    jsonw_str(w, ts);
    jsonw_strn(w, e->line, e->len);
    if (categorize) {
        jsonw_obj_begin(w);
        if (e->metadata != NULL && labels_len(e->metadata) > 0) {
            jsonw_key(w, "structuredMetadata");
            jsonw_labels(w, e->metadata);
        }
        if (e->parsed != NULL && labels_len(e->parsed) > 0) {
            jsonw_key(w, "parsed");
            jsonw_labels(w, e->parsed);
        }
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
}

static void write_streams(jsonw_t *w, const logql_stream_t *ss, size_t n, int categorize)
{
    jsonw_arr_begin(w);
    for (size_t i = 0; i < n; i++) {
        jsonw_obj_begin(w);
        jsonw_key(w, "stream");
        jsonw_labels(w, ss[i].labels);
        jsonw_key(w, "values");
        jsonw_arr_begin(w);
        for (size_t k = 0; k < ss[i].n_entries; k++) {
            logql__api_write_entry(w, &ss[i].entries[k], categorize);
        }
        jsonw_arr_end(w);
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
}

int logql__api_categorized(http_req_t *req)
{
    const char *f = http_req_header(req, "X-Loki-Response-Encoding-Flags");
    return f != NULL && strstr(f, "categorize-labels") != NULL;
}

/* One entry of a categorized result: its stream key and where it goes. */
typedef struct {
    const char *key; /* stream labels (minus metadata and parsed) as text */
    const labels_t *labels;
    const logql_entry_t *e;
    int backward;
} cat_item_t;

static int cat_cmp(const void *x, const void *y)
{
    const cat_item_t *a = x, *b = y;
    int c = strcmp(a->key, b->key);
    if (c != 0 || a->e->ts_ns == b->e->ts_ns) {
        return c;
    }
    return (a->e->ts_ns < b->e->ts_ns) == !a->backward ? -1 : 1;
}

const labels_t *logql__api_stream_labels(arena_t *a, const labels_t *ls, const logql_entry_t *e)
{
    labels_builder_t *b = labels_builder_new(a, ls);
    for (size_t i = 0; e->metadata != NULL && i < labels_len(e->metadata); i++) {
        labels_builder_del(b, labels_at(e->metadata, i).name);
    }
    for (size_t i = 0; e->parsed != NULL && i < labels_len(e->parsed); i++) {
        labels_builder_del(b, labels_at(e->parsed, i).name);
    }
    return labels_builder_build(b);
}

static const char *labels_text(arena_t *a, const labels_t *ls)
{
    buf_t b;
    buf_init(&b);
    labels_format(ls, &b);
    char *s = arena_strdup(a, b.data != NULL ? b.data : "{}");
    buf_fini(&b);
    return s;
}

/* Regroups the engine's streams (keyed by full label sets) by stream labels only. */
static logql_stream_t *categorize(arena_t *a, const logql_result_t *res, int backward,
                                  size_t *n_out)
{
    size_t n = 0, k = 0;
    for (size_t i = 0; i < res->n_streams; i++) {
        n += res->streams[i].n_entries;
    }
    cat_item_t *items = arena_alloc(a, (n + 1) * sizeof(*items));
    logql_stream_t *out = arena_calloc(a, (n + 1) * sizeof(*out));
    logql_entry_t *entries = arena_alloc(a, (n + 1) * sizeof(*entries));
    *n_out = 0;
    if (items == NULL || out == NULL || entries == NULL) {
        return out; /* over the arena budget: the query's arena error is reported */
    }
    for (size_t i = 0; i < res->n_streams; i++) {
        for (size_t j = 0; j < res->streams[i].n_entries; j++, k++) {
            items[k].e = &res->streams[i].entries[j];
            items[k].labels = logql__api_stream_labels(a, res->streams[i].labels, items[k].e);
            items[k].key = labels_text(a, items[k].labels);
            items[k].backward = backward;
        }
    }
    qsort(items, n, sizeof(*items), cat_cmp);
    size_t n_streams = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(items[i].key, items[i - 1].key) != 0) {
            out[n_streams].labels = items[i].labels;
            out[n_streams++].entries = &entries[i];
        }
        entries[i] = *items[i].e;
        out[n_streams - 1].n_entries++;
    }
    *n_out = n_streams;
    return out;
}

/* ---- stats --------------------------------------------------------------------------- */

static void kv_int(jsonw_t *w, const char *k, int64_t v)
{
    jsonw_key(w, k);
    jsonw_int(w, v);
}

static void kv_dbl(jsonw_t *w, const char *k, double v)
{
    jsonw_key(w, k);
    jsonw_double(w, v);
}

static void write_stats(jsonw_t *w, const logql_stats_t *st)
{
    double secs = st->exec_seconds > 0 ? st->exec_seconds : 0;
    jsonw_obj_begin(w);
    jsonw_key(w, "summary");
    jsonw_obj_begin(w);
    kv_int(w, "bytesProcessedPerSecond",
           secs > 0 ? (int64_t)((double)st->bytes_processed / secs) : 0);
    kv_int(w, "linesProcessedPerSecond",
           secs > 0 ? (int64_t)((double)st->lines_processed / secs) : 0);
    kv_int(w, "totalBytesProcessed", (int64_t)st->bytes_processed);
    kv_int(w, "totalLinesProcessed", (int64_t)st->lines_processed);
    kv_dbl(w, "execTime", secs);
    kv_dbl(w, "queueTime", 0);
    kv_int(w, "subqueries", 0);
    kv_int(w, "totalEntriesReturned", (int64_t)st->entries_returned);
    kv_int(w, "splits", 0);
    kv_int(w, "shards", 0);
    kv_int(w, "totalPostFilterLines", (int64_t)st->post_filter_lines);
    kv_int(w, "totalStructuredMetadataBytesProcessed", 0);
    jsonw_obj_end(w);
    /* herald has no queriers, ingesters, caches or index shipper: present, empty */
    jsonw_key(w, "querier");
    jsonw_raw(w, "{\"store\":{}}");
    jsonw_key(w, "ingester");
    jsonw_raw(w, "{}");
    jsonw_key(w, "cache");
    jsonw_raw(w, "{}");
    jsonw_key(w, "index");
    jsonw_raw(w, "{}");
    jsonw_obj_end(w);
}

/* ---- metric results ------------------------------------------------------------------ */

static void write_metric(jsonw_t *w, const promql_result_t *r)
{
    if (r->type == PROMQL_TYPE_SCALAR) {
        write_point(w, r->t, r->scalar);
        return;
    }
    jsonw_arr_begin(w);
    for (size_t i = 0; i < r->n_vec; i++) {
        jsonw_obj_begin(w);
        jsonw_key(w, "metric");
        jsonw_labels(w, r->vec[i].labels);
        jsonw_key(w, "value");
        write_point(w, r->vec[i].t, r->vec[i].v);
        jsonw_obj_end(w);
    }
    for (size_t i = 0; i < r->n_mat; i++) {
        jsonw_obj_begin(w);
        jsonw_key(w, "metric");
        jsonw_labels(w, r->mat[i].labels);
        jsonw_key(w, "values");
        jsonw_arr_begin(w);
        for (size_t k = 0; k < r->mat[i].n_points; k++) {
            write_point(w, r->mat[i].points[k].t, r->mat[i].points[k].v);
        }
        jsonw_arr_end(w);
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
}

static const char *result_type(logql_result_type_t t)
{
    static const char *const names[] = {
        [LOGQL_RESULT_STREAMS] = "streams",
        [LOGQL_RESULT_MATRIX] = "matrix",
        [LOGQL_RESULT_VECTOR] = "vector",
        [LOGQL_RESULT_SCALAR] = "scalar",
    };
    return names[t];
}

void logql__api_write_result(buf_t *out, arena_t *a, const logql_result_t *res, int categorized,
                             logql_direction_t dir)
{
    jsonw_t *w = jsonw_new(out);
    int streams = res->type == LOGQL_RESULT_STREAMS;
    jsonw_obj_begin(w);
    jsonw_key(w, "status");
    jsonw_str(w, "success");
    jsonw_key(w, "data");
    jsonw_obj_begin(w);
    jsonw_key(w, "resultType");
    jsonw_str(w, result_type(res->type));
    if (categorized) { /* echoed for every result type, as Loki's encodeData */
        jsonw_key(w, "encodingFlags");
        jsonw_raw(w, "[\"categorize-labels\"]");
    }
    jsonw_key(w, "result");
    if (streams && categorized) {
        size_t n;
        logql_stream_t *ss = categorize(a, res, dir == LOGQL_BACKWARD, &n);
        write_streams(w, ss, n, 1);
    } else if (streams) {
        write_streams(w, res->streams, res->n_streams, 0);
    } else {
        write_metric(w, &res->metric);
    }
    jsonw_key(w, "stats");
    write_stats(w, &res->stats);
    jsonw_obj_end(w);
    jsonw_obj_end(w);
    jsonw_free(w);
}

void logql__api_write_legacy(buf_t *out, const logql_result_t *res)
{
    jsonw_t *w = jsonw_new(out);
    jsonw_obj_begin(w);
    jsonw_key(w, "stats");
    write_stats(w, &res->stats);
    jsonw_key(w, "streams");
    jsonw_arr_begin(w);
    for (size_t i = 0; i < res->n_streams; i++) {
        buf_t lb;
        buf_init(&lb);
        labels_format(res->streams[i].labels, &lb);
        jsonw_obj_begin(w);
        jsonw_key(w, "labels");
        jsonw_str(w, lb.data != NULL ? lb.data : "{}");
        jsonw_key(w, "entries");
        jsonw_arr_begin(w);
        for (size_t k = 0; k < res->streams[i].n_entries; k++) {
            const logql_entry_t *e = &res->streams[i].entries[k];
            char ts[64];
            timestamp_format_rfc3339nano(e->ts_ns, ts, sizeof(ts));
            jsonw_obj_begin(w);
            jsonw_key(w, "ts");
            jsonw_str(w, ts);
            jsonw_key(w, "line");
            jsonw_strn(w, e->line, e->len);
            jsonw_obj_end(w);
        }
        jsonw_arr_end(w);
        jsonw_obj_end(w);
        buf_fini(&lb);
    }
    jsonw_arr_end(w);
    jsonw_obj_end(w);
    jsonw_free(w);
    buf_putc(out, '\n'); /* json.Encoder ends with a newline */
}
