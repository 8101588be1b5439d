/* storage/logpush_decode.c - decoding of Loki push bodies into an arena: JSON v1 (stream
 * label objects, values as ["<ns>", "<line>", {<structured metadata>}]), the legacy JSON of
 * /api/prom/push (labels as selector text, entries with RFC 3339 `ts`), and snappy-block
 * compressed protobuf PushRequest.
 *
 * DESIGN: jansson parses the JSON (JSON_ALLOW_NUL: a line may hold \u0000) and is released
 * with the arena; strings are referenced, not copied. Protobuf-c allocates from the arena.
 * Decoding checks only shape and types; label syntax and limits are checked by the
 * validation pass, so a bad stream can be rejected alone. */
#include <jansson.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"
#include "storage/logpush.h"
#include "storage/proto/logpush.pb-c.h"

static int bad(err_t *err, const char *what)
{
    return err_set(err, ERR_BAD_DATA, "%s", what);
}

static void json_release(void *j)
{
    json_decref(j);
}

/* "1724148000000000000" -> ns; only an optional '-' and digits, as strconv.ParseInt. */
static int parse_ns(const char *s, int64_t *out)
{
    char *end;
    if (s[0] == '\0' || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9'))) {
        return -1;
    }
    long long v = strtoll(s, &end, 10);
    if (*end != '\0') {
        return -1;
    }
    *out = v;
    return 0;
}

/* Flat object of string values -> label pairs in the arena. */
static int json_pairs(arena_t *a, json_t *obj, label_t **out, size_t *n, err_t *err)
{
    *n = 0;
    *out = arena_alloc(a, (json_object_size(obj) + 1) * sizeof(label_t));
    if (*out == NULL) {
        return bad(err, "request too large for the push memory budget");
    }
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (!json_is_string(v)) {
            return err_set(err, ERR_BAD_DATA, "label %s: value must be a string", k);
        }
        (*out)[(*n)++] = (label_t){k, json_string_value(v)};
    }
    return 0;
}

static int json_value(arena_t *a, json_t *val, log_entry_t *e, err_t *err)
{
    size_t n = json_array_size(val);
    if (!json_is_array(val) || n < 2 || n > 3) {
        return bad(err, "each value must be an array of [timestamp, line] or "
                        "[timestamp, line, structured metadata]");
    }
    json_t *ts = json_array_get(val, 0), *line = json_array_get(val, 1);
    if (!json_is_string(ts) || parse_ns(json_string_value(ts), &e->ts_ns) < 0) {
        return bad(err, "timestamp must be a string holding an integer count of nanoseconds");
    }
    if (!json_is_string(line)) {
        return bad(err, "log line must be a string");
    }
    e->line = json_string_value(line);
    e->len = json_string_length(line);
    if (n == 3) {
        json_t *md = json_array_get(val, 2);
        if (!json_is_object(md)) {
            return bad(err, "structured metadata must be an object of strings");
        }
        label_t *ps;
        if (json_pairs(a, md, &ps, &e->n_metadata, err) < 0) {
            return -1;
        }
        e->metadata = ps;
    }
    return 0;
}

static int json_stream_v1(arena_t *a, json_t *js, logpush_stream_t *st, err_t *err)
{
    json_t *labels = json_object_get(js, "stream"), *values = json_object_get(js, "values");
    if (!json_is_object(js) || (labels != NULL && !json_is_object(labels)) ||
        (values != NULL && !json_is_array(values))) {
        return bad(err, "each stream must be an object with a \"stream\" object and a "
                        "\"values\" array");
    }
    label_t *ps = NULL;
    size_t n_ps = 0;
    if (labels != NULL && json_pairs(a, labels, &ps, &n_ps, err) < 0) {
        return -1;
    }
    /* Duplicates cannot occur in a JSON object as jansson keeps the last key. */
    st->labels = labels_new_arena(a, ps, n_ps, err);
    if (st->labels == NULL) {
        return -1;
    }
    buf_t b;
    buf_init(&b);
    labels_format(st->labels, &b);
    st->labels_text = arena_strdup(a, b.data != NULL ? b.data : "{}");
    buf_fini(&b);
    st->n_entries = json_array_size(values);
    st->entries = arena_calloc(a, (st->n_entries + 1) * sizeof(log_entry_t));
    for (size_t i = 0; st->entries != NULL && i < st->n_entries; i++) {
        if (json_value(a, json_array_get(values, i), &st->entries[i], err) < 0) {
            return -1;
        }
    }
    return st->entries != NULL ? 0 : bad(err, "request too large for the push memory budget");
}

static int json_entry_legacy(json_t *je, log_entry_t *e, err_t *err)
{
    json_t *ts = json_object_get(je, "ts"), *line = json_object_get(je, "line");
    err_t perr = {0};
    if (!json_is_string(ts) || rfc3339_parse_ns(json_string_value(ts), &e->ts_ns, &perr) < 0) {
        return bad(err, "entry \"ts\" must be an RFC 3339 timestamp string");
    }
    if (!json_is_string(line)) {
        return bad(err, "entry \"line\" must be a string");
    }
    e->line = json_string_value(line);
    e->len = json_string_length(line);
    return 0;
}

static int json_stream_legacy(arena_t *a, json_t *js, logpush_stream_t *st, err_t *err)
{
    json_t *labels = json_object_get(js, "labels"), *entries = json_object_get(js, "entries");
    if (!json_is_object(js) || !json_is_string(labels) ||
        (entries != NULL && !json_is_array(entries))) {
        return bad(err, "each stream must be an object with a \"labels\" string and an "
                        "\"entries\" array");
    }
    st->labels_text = json_string_value(labels);
    st->n_entries = json_array_size(entries);
    st->entries = arena_calloc(a, (st->n_entries + 1) * sizeof(log_entry_t));
    for (size_t i = 0; st->entries != NULL && i < st->n_entries; i++) {
        if (json_entry_legacy(json_array_get(entries, i), &st->entries[i], err) < 0) {
            return -1;
        }
    }
    return st->entries != NULL ? 0 : bad(err, "request too large for the push memory budget");
}

static int decode_json(arena_t *a, int legacy, const void *body, size_t len, logpush_req_t *out,
                       err_t *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_ALLOW_NUL, &jerr);
    if (root == NULL) {
        return err_set(err, ERR_BAD_DATA, "decoding JSON: %s", jerr.text);
    }
    arena_on_free(a, json_release, root);
    json_t *streams = json_object_get(root, "streams");
    if (!json_is_object(root) || (streams != NULL && !json_is_array(streams))) {
        return bad(err, "decoding JSON: the body must be an object with a \"streams\" array");
    }
    out->n_streams = json_array_size(streams);
    out->streams = arena_calloc(a, (out->n_streams + 1) * sizeof(logpush_stream_t));
    if (out->streams == NULL) {
        return bad(err, "request too large for the push memory budget");
    }
    for (size_t i = 0; i < out->n_streams; i++) {
        json_t *js = json_array_get(streams, i);
        int rc = legacy ? json_stream_legacy(a, js, &out->streams[i], err)
                        : json_stream_v1(a, js, &out->streams[i], err);
        if (rc < 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- protobuf ------------------------------------------------------------------------------ */

static void *pb_alloc(void *a, size_t n)
{
    return arena_alloc(a, n);
}

static void pb_free(void *a, void *p)
{
    (void)a;
    (void)p; /* released with the arena */
}

static int proto_entry(arena_t *a, const Herald__Loki__Entry *pe, log_entry_t *e)
{
    int64_t s = pe->timestamp != NULL ? pe->timestamp->seconds : 0;
    int32_t ns = pe->timestamp != NULL ? pe->timestamp->nanos : 0;
    e->ts_ns = s * 1000000000LL + ns;
    /* bytes are not NUL-terminated; a line may hold NULs, so copy by length */
    char *line = arena_alloc(a, pe->line.len + 1);
    if (line != NULL && pe->line.len > 0) {
        memcpy(line, pe->line.data, pe->line.len);
    }
    if (line != NULL) {
        line[pe->line.len] = '\0';
    }
    e->line = line;
    e->len = pe->line.len;
    e->n_metadata = pe->n_structured_metadata;
    label_t *md = arena_alloc(a, (e->n_metadata + 1) * sizeof(label_t));
    for (size_t i = 0; md != NULL && i < e->n_metadata; i++) {
        md[i] = (label_t){pe->structured_metadata[i]->name, pe->structured_metadata[i]->value};
    }
    e->metadata = md;
    return e->line != NULL && md != NULL ? 0 : -1;
}

static int decode_proto(arena_t *a, const void *body, size_t len, size_t max_bytes,
                        logpush_req_t *out, err_t *err)
{
    size_t ulen;
    if (snappy_uncompressed_length(body, len, &ulen) != SNAPPY_OK) {
        return bad(err, "snappy: corrupt input");
    }
    if (max_bytes > 0 && ulen > max_bytes) {
        return err_set(err, ERR_TOO_LARGE, "request body too large: %zu bytes, limit: %zu bytes",
                       ulen, max_bytes);
    }
    char *raw = arena_alloc(a, ulen + 1);
    if (raw == NULL || snappy_uncompress(body, len, raw, &ulen) != SNAPPY_OK) {
        return bad(err, "snappy: corrupt input");
    }
    ProtobufCAllocator al = {pb_alloc, pb_free, a};
    Herald__Loki__PushRequest *req =
        herald__loki__push_request__unpack(&al, ulen, (const uint8_t *)raw);
    if (req == NULL) {
        return bad(err, "proto: cannot parse invalid wire-format data");
    }
    out->n_streams = req->n_streams;
    out->streams = arena_calloc(a, (req->n_streams + 1) * sizeof(logpush_stream_t));
    for (size_t i = 0; out->streams != NULL && i < req->n_streams; i++) {
        const Herald__Loki__Stream *ps = req->streams[i];
        logpush_stream_t *st = &out->streams[i];
        st->labels_text = ps->labels;
        st->n_entries = ps->n_entries;
        st->entries = arena_calloc(a, (ps->n_entries + 1) * sizeof(log_entry_t));
        for (size_t k = 0; st->entries != NULL && k < ps->n_entries; k++) {
            if (proto_entry(a, ps->entries[k], &st->entries[k]) < 0) {
                return bad(err, "request too large for the push memory budget");
            }
        }
    }
    return out->streams != NULL ? 0 : bad(err, "request too large for the push memory budget");
}

int logpush_decode(arena_t *a, logpush_format_t f, const void *body, size_t len, size_t max_bytes,
                   logpush_req_t *out, err_t *err)
{
    *out = (logpush_req_t){0};
    if (f == LOGPUSH_PROTO) {
        return decode_proto(a, body, len, max_bytes, out, err);
    }
    return decode_json(a, f == LOGPUSH_JSON_LEGACY, body, len, out, err);
}
