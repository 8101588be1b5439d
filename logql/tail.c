/* logql/tail.c - Loki's live tail over WebSocket: request parsing (Loki's ParseTailQuery
 * rules and texts, answered as plain 400s before the upgrade), the push-path subscription,
 * the initial look-back, and the frames sent on the hub's thread.
 *
 * DESIGN: a tail is a session_t with three owners in turn. The HTTP handler builds it
 * (parsed query, subscription, look-back entries) and hands it to ws_upgrade. Pushing
 * threads then only run the stream matchers, copy the entries and append them to the
 * session's queue under `mu`, or count them as dropped when the session already holds
 * max_queued entries (or bytes): they never wait for the client. Every hub tick swaps the
 * queue out under `mu` and moves it into a min-heap ordered by (timestamp, arrival), from
 * which entries older than now - delay_for are released oldest first (as Loki's tailer
 * does), run through the pipeline and written 100 to a frame while the client keeps up
 * (ws_conn_pending); a slow client therefore fills the bound and later pushes drop.
 * Dropped entries (at most 1000 remembered) ride on the next frame that has entries.
 * on_close unsubscribes (which waits for a running push callback) before freeing anything.
 * Lock order: registry.mu and session.mu are never held together. */
#include "logql/tail.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/hashmap.h"
#include "common/jsonw.h"
#include "common/labels.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/timeutil.h"
#include "common/ws.h"
#include "logql/api_int.h"
#include "logql/logql.h"

#define TAIL_MAX_DELAY_S 5                /* Loki's maxDelayForInTailing */
#define TAIL_FRAME_ENTRIES 100            /* Loki's maxEntriesPerTailResponse */
#define TAIL_MAX_DROPS 1000               /* Loki's maxDroppedEntriesPerTailResponse */
#define TAIL_FRAMES_PER_TICK 50           /* one busy tail must not starve the hub's others */
#define TAIL_PENDING_BYTES (1 << 20)      /* stop releasing while the client has this much unread */
#define TAIL_PROC_ARENA_BYTES (64u << 20) /* the pipeline's label cache is rebuilt past it */

/* ---- entries held by a tail ---------------------------------------------------------- */

/* One entry, in a single allocation with its strings. `done`: it already went through the
 * pipeline (look-back), `labels` are then the output labels (categorized: without the
 * metadata and parsed ones, which are kept apart), else the stream's. */
typedef struct {
    int64_t ts_ns;
    uint64_t seq; /* arrival order, for equal timestamps */
    labels_t *labels;
    labels_t *metadata_set, *parsed_set; /* done and categorized only, else NULL */
    int done;
    size_t size; /* bytes counted against max_queued_bytes */
    log_entry_t entry;
} item_t;

static item_t *item_new(labels_t *ls, const log_entry_t *e, int done)
{
    size_t size = sizeof(item_t) + e->len + 1 + e->n_metadata * sizeof(label_t);
    for (size_t i = 0; i < e->n_metadata; i++) {
        size += strlen(e->metadata[i].name) + strlen(e->metadata[i].value) + 2;
    }
    item_t *it = xmalloc(size);
    char *p = (char *)(it + 1);
    label_t *md = (label_t *)p;
    p += e->n_metadata * sizeof(label_t);
    for (size_t i = 0; i < e->n_metadata; i++) {
        size_t nl = strlen(e->metadata[i].name) + 1, vl = strlen(e->metadata[i].value) + 1;
        md[i].name = memcpy(p, e->metadata[i].name, nl);
        md[i].value = memcpy(p + nl, e->metadata[i].value, vl);
        p += nl + vl;
    }
    memcpy(p, e->line, e->len);
    p[e->len] = '\0';
    *it = (item_t){.ts_ns = e->ts_ns,
                   .labels = labels_ref(ls),
                   .done = done,
                   .size = size,
                   .entry = {.ts_ns = e->ts_ns,
                             .line = p,
                             .len = e->len,
                             .metadata = e->n_metadata ? md : NULL,
                             .n_metadata = e->n_metadata}};
    return it;
}

static void item_free(item_t *it)
{
    labels_unref(it->labels);
    labels_unref(it->metadata_set);
    labels_unref(it->parsed_set);
    free(it);
}

typedef struct {
    int64_t ts_ns;
    labels_t *labels; /* stream labels, one reference */
} drop_t;

/* ---- the session ------------------------------------------------------------------------ */

struct logql_tail {
    logstore_t *store;
    logql_tail_opts_t opts;
    ws_hub_t *hub;
    pthread_mutex_t mu;   /* guards per_tenant */
    hashmap_t per_tenant; /* tenant -> open tails, as (void *)(intptr_t) */
};

typedef struct {
    logql_tail_t *owner;
    char *tenant;
    int legacy;     /* /api/prom/tail frames */
    int categorize; /* the categorize-labels encoding flag */
    int64_t delay_ns;
    int64_t deadline_ms; /* monotonic; 0 until open */
    const char *fail;    /* set: close with 1011 and this text as soon as it opens */
    int counted;         /* holds one of the tenant's tail slots */

    arena_t *expr_arena; /* the parsed query: matchers and pipeline */
    err_t arena_err;
    logql_selector_t sel;
    logstore_sub_t *sub;

    pthread_mutex_t mu; /* guards everything down to `seq`: the push path's side */
    item_t **queue;
    size_t n_queue, cap_queue;
    size_t held, held_bytes; /* queue + heap, against the bounds */
    drop_t *drops;
    size_t n_drops, cap_drops;
    uint64_t seq;

    /* hub thread only */
    item_t **heap;
    size_t n_heap, cap_heap;
    drop_t *out_drops; /* dropped entries for the next frame */
    size_t n_out_drops, cap_out_drops;
    arena_t *proc_arena;
    logql_proc_t *proc;
} session_t;

/* Min-heap on (ts, seq). */
static int item_before(const item_t *a, const item_t *b)
{
    return a->ts_ns != b->ts_ns ? a->ts_ns < b->ts_ns : a->seq < b->seq;
}

static void heap_push(session_t *s, item_t *it)
{
    xgrow((void **)&s->heap, &s->cap_heap, s->n_heap + 1, sizeof(*s->heap));
    size_t i = s->n_heap++;
    while (i > 0 && item_before(it, s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = it;
}

static item_t *heap_pop(session_t *s)
{
    item_t *top = s->heap[0], *last = s->heap[--s->n_heap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->n_heap) {
            break;
        }
        if (c + 1 < s->n_heap && item_before(s->heap[c + 1], s->heap[c])) {
            c++;
        }
        if (!item_before(s->heap[c], last)) {
            break;
        }
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->n_heap > 0) {
        s->heap[i] = last;
    }
    return top;
}

static void drops_add(drop_t **arr, size_t *n, size_t *cap, int64_t ts_ns, labels_t *ls)
{
    if (*n >= TAIL_MAX_DROPS) {
        return; /* as Loki: beyond the cap, dropped entries are not even listed */
    }
    xgrow((void **)arr, cap, *n + 1, sizeof(**arr));
    (*arr)[(*n)++] = (drop_t){ts_ns, labels_ref(ls)};
}

static void drops_clear(drop_t *arr, size_t *n)
{
    for (size_t i = 0; i < *n; i++) {
        labels_unref(arr[i].labels);
    }
    *n = 0;
}

static void tenant_slot_release(logql_tail_t *t, const char *tenant)
{
    pthread_mutex_lock(&t->mu);
    intptr_t n = (intptr_t)hashmap_get(&t->per_tenant, tenant) - 1;
    if (n > 0) {
        hashmap_put(&t->per_tenant, tenant, (void *)n);
    } else {
        hashmap_del(&t->per_tenant, tenant);
    }
    pthread_mutex_unlock(&t->mu);
}

/* Takes a slot of the tenant's max_per_tenant; -1 with Loki's text in *msg when full. */
static int tenant_slot_take(logql_tail_t *t, const char *tenant, arena_t *a, const char **msg)
{
    pthread_mutex_lock(&t->mu);
    intptr_t n = (intptr_t)hashmap_get(&t->per_tenant, tenant);
    int ok = n < t->opts.max_per_tenant;
    if (ok) {
        hashmap_put(&t->per_tenant, tenant, (void *)(n + 1));
    }
    pthread_mutex_unlock(&t->mu);
    if (!ok) {
        *msg = arena_sprintf(a,
                             "max concurrent tail requests limit exceeded, count > limit "
                             "(%ld > %d)",
                             (long)n + 1, t->opts.max_per_tenant);
    }
    return ok ? 0 : -1;
}

/* Everything but the WebSocket: also the path of a tail whose upgrade failed. */
static void session_free(session_t *s)
{
    logstore_unsubscribe(s->owner->store, s->sub); /* returns once no push callback runs */
    for (size_t i = 0; i < s->n_queue; i++) {
        item_free(s->queue[i]);
    }
    for (size_t i = 0; i < s->n_heap; i++) {
        item_free(s->heap[i]);
    }
    drops_clear(s->drops, &s->n_drops);
    drops_clear(s->out_drops, &s->n_out_drops);
    free(s->queue);
    free(s->heap);
    free(s->drops);
    free(s->out_drops);
    if (s->counted) {
        tenant_slot_release(s->owner, s->tenant);
    }
    pthread_mutex_destroy(&s->mu);
    arena_free(s->proc_arena);
    arena_free(s->expr_arena);
    free(s->tenant);
    free(s);
}

/* ---- the push path ------------------------------------------------------------------- */

static int stream_matches(const session_t *s, const labels_t *stream)
{
    for (size_t i = 0; i < s->sel.n_matchers; i++) {
        if (!matcher_matches_labels(s->sel.matchers[i], stream)) {
            return 0;
        }
    }
    return 1;
}

/* logstore_tail_fn: runs on the pushing thread. Copies are made before taking the lock, so
 * the hub's swap never waits behind an allocation. */
static void on_push(void *arg, const labels_t *stream, const log_entry_t *entries, size_t n)
{
    session_t *s = arg;
    if (n == 0 || !stream_matches(s, stream)) {
        return;
    }
    labels_t *ls = labels_intern(stream); /* the store's set is borrowed for the call only */
    item_t **items = xmalloc(n * sizeof(*items));
    for (size_t i = 0; i < n; i++) {
        items[i] = item_new(ls, &entries[i], 0);
    }
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < n; i++) {
        item_t *it = items[i];
        if (s->held >= s->owner->opts.max_queued ||
            s->held_bytes + it->size > s->owner->opts.max_queued_bytes) {
            drops_add(&s->drops, &s->n_drops, &s->cap_drops, it->ts_ns, ls);
            continue;
        }
        it->seq = s->seq++;
        xgrow((void **)&s->queue, &s->cap_queue, s->n_queue + 1, sizeof(*s->queue));
        s->queue[s->n_queue++] = it;
        s->held++;
        s->held_bytes += it->size;
        items[i] = NULL; /* now the queue's */
    }
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < n; i++) {
        if (items[i] != NULL) {
            item_free(items[i]);
        }
    }
    free(items);
    labels_unref(ls);
}

/* ---- frames ------------------------------------------------------------------------------ */

typedef struct {
    buf_t buf;
    jsonw_t *w;
    size_t n; /* entries in it */
    int legacy, categorize;
} frame_t;

static void frame_open(frame_t *f, int legacy, int categorize)
{
    buf_init(&f->buf);
    f->w = jsonw_new(&f->buf);
    f->n = 0;
    f->legacy = legacy;
    f->categorize = categorize;
    jsonw_obj_begin(f->w);
    jsonw_key(f->w, "streams");
    jsonw_arr_begin(f->w);
}

static void write_label_string(jsonw_t *w, const labels_t *ls)
{
    buf_t s;
    buf_init(&s);
    labels_format(ls, &s);
    jsonw_strn(w, s.data != NULL ? s.data : "", s.len);
    buf_fini(&s);
}

static void write_ts(jsonw_t *w, int64_t ts_ns, int rfc3339)
{
    char ts[64];
    if (rfc3339) {
        timestamp_format_rfc3339nano(ts_ns, ts, sizeof(ts));
    } else {
        snprintf(ts, sizeof(ts), "%lld", (long long)ts_ns);
    }
    jsonw_str(w, ts);
}

/* One entry as its own stream, as Loki's tailer builds its responses; v1 values are those of
 * the query API (categorized: with the third element). */
static void frame_add(frame_t *f, const labels_t *ls, const logql_entry_t *e)
{
    jsonw_t *w = f->w;
    jsonw_obj_begin(w);
    jsonw_key(w, f->legacy ? "labels" : "stream");
    f->legacy ? write_label_string(w, ls) : jsonw_labels(w, ls);
    jsonw_key(w, f->legacy ? "entries" : "values");
    jsonw_arr_begin(w);
    if (f->legacy) {
        jsonw_obj_begin(w);
        jsonw_key(w, "ts");
        write_ts(w, e->ts_ns, 1);
        jsonw_key(w, "line");
        jsonw_strn(w, e->line, e->len);
        jsonw_obj_end(w);
    } else {
        logql__api_write_entry(w, e, f->categorize);
    }
    jsonw_arr_end(w);
    jsonw_obj_end(w);
    f->n++;
}

/* v1: "dropped_entries" only when there are some, {"timestamp":"<ns>","labels":{...}};
 * legacy: always, null when empty, {"Timestamp":"<RFC 3339>","Labels":"{...}"}. */
static void frame_write_drops(frame_t *f, const drop_t *d, size_t n)
{
    jsonw_t *w = f->w;
    if (n == 0 && !f->legacy) {
        return;
    }
    jsonw_key(w, "dropped_entries");
    if (n == 0) {
        jsonw_null(w);
        return;
    }
    jsonw_arr_begin(w);
    for (size_t i = 0; i < n; i++) {
        jsonw_obj_begin(w);
        jsonw_key(w, f->legacy ? "Timestamp" : "timestamp");
        write_ts(w, d[i].ts_ns, f->legacy);
        jsonw_key(w, f->legacy ? "Labels" : "labels");
        f->legacy ? write_label_string(w, d[i].labels) : jsonw_labels(w, d[i].labels);
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
}

/* Closes the frame with the pending dropped entries (and, categorized, the flag last, as
 * Loki's EncodeTailResult: the legacy frames have no flags), sends it and starts a new one. */
static void frame_send(session_t *s, frame_t *f, ws_conn_t *c)
{
    jsonw_arr_end(f->w);
    frame_write_drops(f, s->out_drops, s->n_out_drops);
    if (f->categorize && !f->legacy) {
        jsonw_key(f->w, "encodingFlags");
        jsonw_raw(f->w, "[\"categorize-labels\"]");
    }
    jsonw_obj_end(f->w);
    ws_conn_send_text(c, f->buf.data, f->buf.len);
    drops_clear(s->out_drops, &s->n_out_drops);
    jsonw_free(f->w);
    buf_fini(&f->buf);
    frame_open(f, f->legacy, f->categorize);
}

static void frame_close(frame_t *f)
{
    jsonw_free(f->w);
    buf_fini(&f->buf);
}

/* ---- the hub side -------------------------------------------------------------------- */

/* Moves what the push path queued into the heap, and its drops into out_drops. */
static void session_drain(session_t *s)
{
    pthread_mutex_lock(&s->mu);
    item_t **q = s->queue;
    size_t n = s->n_queue;
    s->queue = NULL;
    s->n_queue = s->cap_queue = 0;
    drop_t *d = s->drops;
    size_t nd = s->n_drops;
    s->drops = NULL;
    s->n_drops = s->cap_drops = 0;
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < n; i++) {
        heap_push(s, q[i]);
    }
    for (size_t i = 0; i < nd; i++) {
        drops_add(&s->out_drops, &s->n_out_drops, &s->cap_out_drops, d[i].ts_ns, d[i].labels);
    }
    drops_clear(d, &nd);
    free(q);
    free(d);
}

/* Runs the pipeline (unless done) and adds the entry to the frame when it is kept. */
static void session_emit(session_t *s, frame_t *f, const item_t *it)
{
    logql_entry_t e = {.ts_ns = it->ts_ns,
                       .line = it->entry.line,
                       .len = it->entry.len,
                       .metadata = it->metadata_set,
                       .parsed = it->parsed_set};
    if (it->done) {
        frame_add(f, it->labels, &e);
        return;
    }
    if (arena_used(s->proc_arena) > TAIL_PROC_ARENA_BYTES) {
        arena_reset(s->proc_arena); /* drops the label-set cache a long tail accumulates */
        s->proc = logql_proc_new(s->proc_arena, s->sel.pipeline);
    }
    logql_out_t out;
    if (logql_proc_run(s->proc, it->labels, &it->entry, &out) != 1) {
        return;
    }
    e.line = out.line;
    e.len = out.len;
    e.metadata = out.metadata;
    e.parsed = out.parsed;
    const labels_t *ls = out.labels;
    if (s->categorize) { /* in proc_arena, which is only reset before a run */
        ls = logql__api_stream_labels(s->proc_arena, out.labels, &e);
    }
    frame_add(f, ls, &e);
}

/* Releases the entries older than now - delay_for while the client keeps up. */
static void session_release(session_t *s, ws_conn_t *c, int64_t now_ns)
{
    frame_t f;
    frame_open(&f, s->legacy, s->categorize);
    size_t freed = 0, freed_bytes = 0;
    int frames = 0;
    while (s->n_heap > 0 && frames < TAIL_FRAMES_PER_TICK &&
           ws_conn_pending(c) < TAIL_PENDING_BYTES && now_ns > s->heap[0]->ts_ns + s->delay_ns) {
        item_t *it = heap_pop(s);
        session_emit(s, &f, it);
        freed++;
        freed_bytes += it->size;
        item_free(it);
        if (f.n == TAIL_FRAME_ENTRIES) {
            frame_send(s, &f, c);
            frames++;
        }
    }
    if (f.n > 0) {
        frame_send(s, &f, c);
    }
    frame_close(&f);
    if (freed > 0) {
        pthread_mutex_lock(&s->mu);
        s->held -= freed;
        s->held_bytes -= freed_bytes;
        pthread_mutex_unlock(&s->mu);
    }
}

static void tail_on_open(ws_conn_t *c, void *arg)
{
    session_t *s = arg;
    if (s->fail != NULL) {
        ws_conn_close(c, WS_CLOSE_INTERNAL, s->fail);
        return;
    }
    s->deadline_ms = time_mono_ms() + s->owner->opts.max_duration_ms;
    LOG_DEBUG("tail started", KV_STR("tenant", s->tenant));
}

static void tail_on_tick(ws_conn_t *c, void *arg, int64_t now_ms)
{
    session_t *s = arg;
    if (now_ms >= s->deadline_ms) {
        ws_conn_close(c, WS_CLOSE_INTERNAL, "reached tail max duration limit");
        return;
    }
    session_drain(s);
    session_release(s, c, time_now_ns());
}

static void tail_on_close(ws_conn_t *c, void *arg, int code)
{
    (void)c;
    session_t *s = arg;
    LOG_DEBUG("tail ended", KV_STR("tenant", s->tenant), KV_INT("code", code));
    session_free(s);
}

static const ws_handler_t tail_handler = {
    .on_open = tail_on_open,
    .on_tick = tail_on_tick,
    .on_close = tail_on_close,
};

/* ---- the request ------------------------------------------------------------------------ */

typedef struct {
    const logql_expr_t *expr;
    uint32_t limit;
    int64_t start_ns;
    int64_t delay_s;
} tail_params_t;

/* delay_for: strconv.Atoi, then at most 5 (a negative value wraps around in Loki's uint32,
 * so it fails the same check). */
static int parse_delay(const char *v, int64_t *out, err_t *err)
{
    *out = 0;
    if (v == NULL || v[0] == '\0') {
        return 0;
    }
    const char *digits = v + (v[0] == '+' || v[0] == '-');
    size_t nd = strlen(digits);
    if (nd == 0 || strspn(digits, "0123456789") != nd || nd > 18) {
        buf_t q;
        buf_init(&q);
        labels_quote(&q, v, strlen(v));
        int range = nd > 18 && strspn(digits, "0123456789") == nd;
        err_set(err, ERR_BAD_DATA, "strconv.Atoi: parsing %s: %s", q.data,
                range ? "value out of range" : "invalid syntax");
        buf_fini(&q);
        return -1;
    }
    *out = strtoll(v, NULL, 10);
    if (*out < 0 || *out > TAIL_MAX_DELAY_S) {
        return err_set(err, ERR_BAD_DATA, "delay_for can't be greater than %d", TAIL_MAX_DELAY_S);
    }
    return 0;
}

/* `query`, with the deprecated `regexp` parameter appended as a |~ filter. */
static const logql_expr_t *parse_query(arena_t *a, http_req_t *req, err_t *err)
{
    const char *q = http_req_arg(req, "query");
    logql_expr_t *e = logql_parse(a, q != NULL ? q : "", err);
    const char *re = http_req_arg(req, "regexp");
    if (e == NULL || re == NULL || re[0] == '\0') {
        return e;
    }
    if (logql_is_metric(e)) {
        err_set(err, ERR_BAD_DATA, "only log selector is supported");
        return NULL;
    }
    buf_t text;
    buf_init(&text);
    buf_printf(&text, "%s |~ ", q);
    labels_quote(&text, re, strlen(re));
    e = logql_parse(a, arena_strndup(a, text.data, text.len), err);
    buf_fini(&text);
    return e;
}

/* Loki's ParseTailQuery, in its order: query, regexp, limit, start (and end, since),
 * delay_for. */
static int parse_params(arena_t *a, http_req_t *req, tail_params_t *p, err_t *err)
{
    int64_t end_ns;
    p->expr = parse_query(a, req, err);
    if (p->expr == NULL || logql__api_param_limit(req, &p->limit, err) < 0 ||
        logql__api_param_bounds(req, time_now_ns(), &p->start_ns, &end_ns, err) < 0) {
        return -1;
    }
    return parse_delay(http_req_arg(req, "delay_for"), &p->delay_s, err);
}

static session_t *session_new(logql_tail_t *t, http_req_t *req)
{
    session_t *s = xcalloc(1, sizeof(*s));
    s->owner = t;
    s->tenant = xstrdup(http_req_tenant(req));
    s->legacy = strncmp(http_req_path(req), "/api/prom/", 10) == 0;
    s->categorize = logql__api_categorized(req); /* also on the legacy path, as Loki */
    s->expr_arena = arena_new(0, &s->arena_err);
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

/* ---- look-back ---------------------------------------------------------------------- */

typedef struct {
    int64_t ts_ns;
    uint64_t hash;
} seen_t;

static int seen_cmp(const void *a, const void *b)
{
    const seen_t *x = a, *y = b;
    if (x->ts_ns != y->ts_ns) {
        return x->ts_ns < y->ts_ns ? -1 : 1;
    }
    return x->hash < y->hash ? -1 : x->hash > y->hash;
}

/* Drops the queued live entries that the look-back returned too (pushed while it read).
 * Caller holds s->mu. */
static void dedupe_queue(session_t *s, seen_t *seen, size_t n_seen)
{
    qsort(seen, n_seen, sizeof(*seen), seen_cmp);
    size_t kept = 0;
    for (size_t i = 0; i < s->n_queue; i++) {
        item_t *it = s->queue[i];
        seen_t key = {it->ts_ns, hash_bytes(it->entry.line, it->entry.len, 0)};
        if (n_seen > 0 && bsearch(&key, seen, n_seen, sizeof(*seen), seen_cmp) != NULL) {
            s->held--;
            s->held_bytes -= it->size;
            item_free(it);
            continue;
        }
        s->queue[kept++] = it;
    }
    s->n_queue = kept;
}

/* A categorized look-back item keeps the entry's metadata and parsed labels apart and only
 * the stream's own labels as its labels (Loki's categorize-labels iterator). */
static void item_categorize(item_t *it, arena_t *a, const logql_entry_t *e)
{
    labels_t *own = labels_intern(logql__api_stream_labels(a, it->labels, e));
    labels_unref(it->labels);
    it->labels = own;
    it->metadata_set = e->metadata != NULL ? labels_intern(e->metadata) : NULL;
    it->parsed_set = e->parsed != NULL ? labels_intern(e->parsed) : NULL;
}

/* Adds the result's entries to the heap (already through the pipeline) and accounts them;
 * fills `seen` with their keys. Scratch in `a`. */
static size_t add_lookback(session_t *s, arena_t *a, const logql_result_t *res, seen_t *seen)
{
    size_t n = 0, bytes = 0;
    for (size_t i = 0; i < res->n_streams; i++) {
        const logql_stream_t *st = &res->streams[i];
        labels_t *ls = labels_intern(st->labels);
        for (size_t j = 0; j < st->n_entries; j++) {
            const logql_entry_t *e = &st->entries[j];
            log_entry_t le = {.ts_ns = e->ts_ns, .line = e->line, .len = e->len};
            item_t *it = item_new(ls, &le, 1);
            if (s->categorize) {
                item_categorize(it, a, e);
            }
            heap_push(s, it);
            seen[n++] = (seen_t){e->ts_ns, hash_bytes(e->line, e->len, 0)};
            bytes += it->size;
        }
        labels_unref(ls);
    }
    pthread_mutex_lock(&s->mu);
    for (size_t i = s->n_heap - n; i < s->n_heap; i++) {
        s->heap[i]->seq = s->seq++;
    }
    s->held += n;
    s->held_bytes += bytes;
    dedupe_queue(s, seen, n);
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* The newest `limit` entries from start to now, as Loki's tail starts (best effort). Runs
 * after the subscription, so nothing pushed meanwhile is missed. */
static int session_lookback(session_t *s, const tail_params_t *p, err_t *err)
{
    int64_t now_ns = time_now_ns();
    if (p->start_ns >= now_ns) {
        return 0;
    }
    size_t limit = p->limit < s->owner->opts.max_queued ? p->limit : s->owner->opts.max_queued;
    err_t aerr = {0};
    arena_t *a = arena_new(0, &aerr);
    logql_result_t res;
    logql_opts_t o = {.max_entries = limit};
    int rc = logql_exec_range(a, s->owner->store, s->tenant, p->expr, p->start_ns, now_ns, 0, 0,
                              limit, LOGQL_BACKWARD, &o, &res, err);
    if (rc == 0) {
        size_t total = 0;
        for (size_t i = 0; i < res.n_streams; i++) {
            total += res.streams[i].n_entries;
        }
        seen_t *seen = xmalloc((total > 0 ? total : 1) * sizeof(*seen));
        add_lookback(s, a, &res, seen);
        free(seen);
    }
    arena_free(a);
    return rc;
}

/* Everything Loki does after the upgrade: failures become the session's Close 1011. */
static void session_start(session_t *s, const tail_params_t *p)
{
    err_t err = {0};
    s->delay_ns = p->delay_s * 1000000000LL;
    if (logql_is_metric(p->expr) || logql_log_selector(p->expr, &s->sel) < 0) {
        s->fail = "only log selector is supported";
        return;
    }
    if (tenant_slot_take(s->owner, s->tenant, s->expr_arena, &s->fail) < 0) {
        return;
    }
    s->counted = 1;
    s->proc_arena = arena_new(0, NULL);
    s->proc = logql_proc_new(s->proc_arena, s->sel.pipeline);
    s->sub = logstore_subscribe(s->owner->store, s->tenant, on_push, s);
    if (session_lookback(s, p, &err) < 0) {
        s->fail = arena_strdup(s->expr_arena, err.msg);
    }
}

static int h_tail(http_req_t *req, void *ctx, err_t *err)
{
    logql_tail_t *t = ctx;
    session_t *s = session_new(t, req);
    tail_params_t p;
    if (parse_params(s->expr_arena, req, &p, err) < 0 || ws_check_handshake(req, err) < 0) {
        session_free(s);
        return -1;
    }
    session_start(s, &p);
    if (ws_upgrade(req, t->hub, &tail_handler, s, err) < 0) {
        session_free(s);
        return -1;
    }
    return 0;
}

/* ---- registration ----------------------------------------------------------------------- */

/* The server's stop closes the tails while their sockets still exist. */
static void stop_hub(void *hub)
{
    ws_hub_stop(hub);
}

logql_tail_t *logql_tail_register(http_server_t *srv, logstore_t *store,
                                  const logql_tail_opts_t *opts, err_t *err)
{
    logql_tail_t *t = xcalloc(1, sizeof(*t));
    t->store = store;
    if (opts != NULL) {
        t->opts = *opts;
    }
    logql_tail_opts_t *o = &t->opts;
    o->max_per_tenant = o->max_per_tenant > 0 ? o->max_per_tenant : 10;
    o->max_duration_ms = o->max_duration_ms > 0 ? o->max_duration_ms : 3600 * 1000;
    o->max_queued = o->max_queued > 0 ? o->max_queued : 5000;
    o->max_queued_bytes = o->max_queued_bytes > 0 ? o->max_queued_bytes : 16u << 20;
    pthread_mutex_init(&t->mu, NULL);
    hashmap_init(&t->per_tenant);
    ws_hub_opts_t ho = {.ping_interval_ms = o->ping_interval_ms, .name = "tail"};
    t->hub = ws_hub_new(&ho, err);
    static const char *const paths[] = {"/loki/api/v1/tail", "/api/prom/tail"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        if (http_route(srv, "GET", paths[i], HTTP_AUTH | HTTP_TEXT_ERRORS, h_tail, t) < 0) {
            err_set(err, ERR_INTERNAL, "cannot register %s", paths[i]);
            logql_tail_free(t);
            return NULL;
        }
    }
    http_server_on_stop(srv, stop_hub, t->hub);
    return t;
}

void logql_tail_free(logql_tail_t *t)
{
    if (t == NULL) {
        return;
    }
    ws_hub_free(t->hub); /* closes what is still open: every session is freed */
    hashmap_fini(&t->per_tenant, NULL);
    pthread_mutex_destroy(&t->mu);
    free(t);
}
