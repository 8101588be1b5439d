/* storage/tsdb_append.c - the write path of a tenant TSDB (batch append + WAL), the
 * appender for recording rules, and the TSDB self-metrics (Mimir's ingester names).
 *
 * DESIGN: a batch is applied under the tenant's write lock: series are looked up by the hash
 * of their label pairs (no allocation for known series), new ones are interned and logged as
 * SERIES records, accepted samples are logged as one SAMPLES record, and the framed records
 * go to the WAL in one write(2) before the lock is released and the push acknowledged.
 * Rejections carry Mimir's ingester messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/metrics.h"
#include "common/timeutil.h"
#include "storage/tsdb_int.h"

static struct {
    pthread_once_t once;
    metric_t *ingested, *failed, *discarded, *created, *removed, *memory_series, *head_chunks;
    metric_t *head_series;
    metric_t *wal_records, *wal_fsync, *wal_failed, *compactions, *replay, *checkpoints, *blocks;
} m = {.once = PTHREAD_ONCE_INIT};

static void metrics_register(void)
{
    m.ingested = metric_counter("cortex_ingester_ingested_samples_total",
                                "The total number of samples ingested per user.", "user");
    m.failed =
        metric_counter("cortex_ingester_ingested_samples_failures_total",
                       "The total number of samples that errored on ingestion per user.", "user");
    m.discarded = metric_counter("cortex_discarded_samples_total",
                                 "The total number of samples that were discarded.", "reason,user");
    m.created = metric_counter("cortex_ingester_memory_series_created_total",
                               "The total number of series that were created per user.", "user");
    m.removed = metric_counter("cortex_ingester_memory_series_removed_total",
                               "The total number of series that were removed per user.", "user");
    m.memory_series = metric_gauge("cortex_ingester_memory_series",
                                   "The current number of series in memory.", NULL);
    m.head_series = metric_gauge("cortex_ingester_active_series",
                                 "Number of series in the head (herald: every head series, not "
                                 "only those written in the last 20 minutes).",
                                 "user");
    m.head_chunks = metric_gauge("cortex_ingester_tsdb_head_chunks",
                                 "Total number of chunks in the head block.", "user");
    m.wal_records = metric_counter("cortex_ingester_tsdb_wal_records_total",
                                   "Records written to the TSDB WAL.", "user");
    m.wal_fsync = metric_histogram("cortex_ingester_tsdb_wal_fsync_duration_seconds",
                                   "Duration of TSDB WAL fsync.", NULL, NULL, 0);
    m.wal_failed = metric_counter("cortex_ingester_tsdb_wal_writes_failed_total",
                                  "Total number of TSDB WAL writes that failed.", NULL);
    m.compactions = metric_counter("cortex_ingester_tsdb_compactions_total",
                                   "Total number of TSDB compactions that were executed.", NULL);
    m.replay = metric_gauge("cortex_ingester_tsdb_wal_replay_duration_seconds",
                            "Time taken to replay the TSDB WAL.", "user");
    m.checkpoints = metric_counter("cortex_ingester_tsdb_checkpoint_creations_total",
                                   "Total number of TSDB checkpoint creations attempted.", NULL);
    m.blocks = metric_gauge("cortex_ingester_tsdb_blocks_loaded",
                            "Number of currently loaded data blocks.", "user");
}

void tsdb__metrics_init(void) { pthread_once(&m.once, metrics_register); }

void tsdb__metrics_replay(tsdb_t *db, int64_t ms)
{
    metric_set(m.replay, ms / 1000.0, db->tenant);
    metric_add(m.memory_series, (double)db->head.ix.n_live);
    metric_set(m.head_chunks, (double)db->head.n_chunks, db->tenant);
    metric_set(m.head_series, (double)db->head.ix.n_live, db->tenant);
    metric_set(m.blocks, (double)db->n_blocks, db->tenant);
}

void tsdb__metrics_fsync(int64_t ms) { metric_observe(m.wal_fsync, ms / 1000.0); }

void tsdb__metrics_maint(tsdb_t *db, int compactions, int checkpoints, size_t removed_series)
{
    if (compactions > 0) {
        metric_add(m.compactions, compactions);
    }
    if (checkpoints > 0) {
        metric_add(m.checkpoints, checkpoints);
    }
    if (removed_series > 0) {
        metric_add(m.removed, (double)removed_series, db->tenant);
        metric_add(m.memory_series, -(double)removed_series);
    }
    metric_set(m.head_chunks, (double)db->head.n_chunks, db->tenant);
    metric_set(m.head_series, (double)db->head.ix.n_live, db->tenant);
    metric_set(m.blocks, (double)db->n_blocks, db->tenant);
}

/* ---- batch append ---------------------------------------------------------------------- */

typedef struct {
    buf_t series, samples;
    tsdb_samples_enc_t enc; /* writes into samples */
    int64_t maxt;
} wal_batch_t;

static void reject(tsdb_append_result_t *res, const char *what, int64_t t, const label_t *ls,
                   size_t n)
{
    if (err_is_set(&res->first)) {
        return;
    }
    char ts[64];
    buf_t lb;
    buf_init(&lb);
    err_t e = {0};
    labels_t *tmp = labels_new(ls, n, &e);
    if (tmp != NULL) {
        labels_format(tmp, &lb);
    }
    labels_unref(tmp);
    timestamp_format_rfc3339nano(t * 1000000, ts, sizeof(ts));
    err_set(&res->first, ERR_BAD_DATA,
            "%s. The affected sample has timestamp %s and is from series %s", what, ts,
            lb.data != NULL ? lb.data : "{}");
    buf_fini(&lb);
}

static const char *const msg_ooo =
    "the sample has been rejected because another sample with a more recent timestamp has already "
    "been ingested and out-of-order samples are not allowed (err-mimir-sample-out-of-order)";
static const char *const msg_dup =
    "the sample has been rejected because another sample with the same timestamp, but a different "
    "value, has already been ingested (err-mimir-sample-duplicate-timestamp)";
static const char *const msg_window =
    "the sample has been rejected because another sample with a more recent timestamp has already "
    "been ingested and this sample is beyond the out-of-order time window of %s "
    "(err-mimir-sample-timestamp-too-old)";
static const char *const msg_old = "the sample has been rejected because its timestamp is too old "
                                   "(err-mimir-sample-timestamp-too-old)";

static void append_samples(tsdb_t *db, tsdb_hseries_t *s, uint32_t id, const tsdb_series_in_t *in,
                           wal_batch_t *wb, tsdb_append_result_t *res)
{
    for (size_t k = 0; k < in->n_samples; k++) {
        int64_t t = in->samples[k].t;
        int rc = tsdb__head_append(&db->head, s, t, in->samples[k].v);
        if (rc == 0) {
            tsdb__samples_put(&wb->enc, id, t, in->samples[k].v);
            if (t > wb->maxt) {
                wb->maxt = t;
            }
        }
        if (rc >= 0) {
            res->n_ok++;
            continue;
        }
        res->n_failed++;
        char msg[512];
        if (rc == -4) {
            char win[32];
            duration_format(db->head.ooo_window_ms, win, sizeof(win));
            snprintf(msg, sizeof(msg), msg_window, win);
        } else {
            snprintf(msg, sizeof(msg), "%s", rc == -1 ? msg_ooo : rc == -2 ? msg_dup : msg_old);
        }
        *(rc == -1 ? &res->n_out_of_order : rc == -2 ? &res->n_duplicate : &res->n_too_old) += 1;
        reject(res, msg, t, in->labels, in->n_labels);
    }
}

/* The series of `in`, created (and logged) if new; NULL when the series limit forbids. */
static tsdb_hseries_t *get_series(tsdb_t *db, const tsdb_series_in_t *in, size_t max_series,
                                  wal_batch_t *wb, uint32_t *id, tsdb_append_result_t *res)
{
    uint64_t hash = tsdb__pairs_hash(in->labels, in->n_labels);
    int64_t found = tsdb__index_find_pairs(&db->head.ix, in->labels, in->n_labels, hash);
    if (found >= 0) {
        *id = (uint32_t)found;
        return db->head.series[found];
    }
    err_t e = {0};
    if (max_series > 0 && db->head.ix.n_live >= max_series) {
        res->n_series_limit += in->n_samples;
        res->n_failed += in->n_samples;
        err_set(&res->first, ERR_TOO_MANY_REQUESTS,
                "per-user series limit of %zu exceeded (err-mimir-max-series-per-user). To adjust "
                "the related per-tenant limit, configure -ingester.max-global-series-per-user, or "
                "contact your service administrator.",
                max_series);
        return NULL;
    }
    labels_t *tmp = labels_new(in->labels, in->n_labels, &e);
    if (tmp == NULL) {
        res->n_failed += in->n_samples;
        err_set(&res->first, ERR_BAD_DATA, "%s", e.msg);
        return NULL;
    }
    labels_t *ls = labels_intern(tmp);
    labels_unref(tmp);
    tsdb_hseries_t *s = tsdb__head_add_series(&db->head, -1, ls, hash, id);
    tsdb__series_record(&wb->series, *id, ls);
    res->n_new_series++;
    return s;
}

static int wal_flush(tsdb_t *db, wal_batch_t *wb, err_t *err)
{
    buf_t framed;
    buf_init(&framed);
    if (wb->series.len > 0) {
        tsdb__wal_frame(&framed, TSDB_WAL_SERIES, &wb->series, db->wal.compress);
    }
    if (wb->samples.len > 0) {
        tsdb__wal_frame(&framed, TSDB_WAL_SAMPLES, &wb->samples, db->wal.compress);
    }
    int rc = tsdb__wal_write(&db->wal, &framed, wb->maxt, db->sync_each, err);
    buf_fini(&framed);
    return rc;
}

int tsdb_append(tsdb_t *db, const tsdb_series_in_t *in, size_t n, size_t max_series,
                tsdb_append_result_t *res, err_t *err)
{
    memset(res, 0, sizeof(*res));
    wal_batch_t wb = {.maxt = INT64_MIN};
    buf_init(&wb.series);
    buf_init(&wb.samples);
    wb.enc.payload = &wb.samples;
    pthread_rwlock_wrlock(&db->mu);
    for (size_t i = 0; i < n; i++) {
        uint32_t id;
        tsdb_hseries_t *s = get_series(db, &in[i], max_series, &wb, &id, res);
        if (s != NULL) {
            append_samples(db, s, id, &in[i], &wb, res);
        }
    }
    int rc = wal_flush(db, &wb, err);
    size_t chunks = db->head.n_chunks, live = db->head.ix.n_live;
    pthread_rwlock_unlock(&db->mu);
    int n_records = (wb.series.len > 0) + (wb.samples.len > 0);
    buf_fini(&wb.series);
    buf_fini(&wb.samples);

    if (rc < 0) {
        metric_add(m.wal_failed, 1);
    }
    if (n_records > 0) {
        metric_add(m.wal_records, n_records, db->tenant);
    }
    metric_add(m.ingested, (double)res->n_ok, db->tenant);
    if (res->n_failed > 0) {
        metric_add(m.failed, (double)res->n_failed, db->tenant);
        metric_add(m.discarded, (double)res->n_out_of_order, "sample-out-of-order", db->tenant);
        metric_add(m.discarded, (double)res->n_too_old, "sample-timestamp-too-old", db->tenant);
        metric_add(m.discarded, (double)res->n_duplicate, "new-value-for-timestamp", db->tenant);
        metric_add(m.discarded, (double)res->n_series_limit, "per_user_series_limit", db->tenant);
    }
    if (res->n_new_series > 0) {
        metric_add(m.created, (double)res->n_new_series, db->tenant);
        metric_add(m.memory_series, (double)res->n_new_series);
    }
    metric_set(m.head_chunks, (double)chunks, db->tenant);
    metric_set(m.head_series, (double)live, db->tenant);
    return rc;
}

/* ---- appender (recording rules) --------------------------------------------------------- */

typedef struct {
    labels_t *ls; /* interned reference */
    sample_t s;
} app_item_t;

typedef struct {
    appender_t base;
    tsdb_registry_t *reg;
    char *tenant;
    app_item_t *items;
    size_t n, cap;
} tapp_t;

static int app_append(appender_t *base, const labels_t *ls, int64_t t, double v, err_t *err)
{
    tapp_t *a = (tapp_t *)base;
    xgrow((void **)&a->items, &a->cap, a->n + 1, sizeof(*a->items));
    a->items[a->n++] = (app_item_t){labels_intern(ls), {t, v}};
    return 0;
}

static void app_free(tapp_t *a)
{
    for (size_t i = 0; i < a->n; i++) {
        labels_unref(a->items[i].ls);
    }
    free(a->items);
    free(a->tenant);
    free(a);
}

static void app_rollback(appender_t *base) { app_free((tapp_t *)base); }

/* One input series per item: the head keeps per-series order checks, so items of one
 * series must simply come in time order, as rule evaluation produces them. */
static int app_commit(appender_t *base, err_t *err)
{
    tapp_t *a = (tapp_t *)base;
    int rc = 0;
    tsdb_t *db = a->n > 0 ? tsdb_tenant(a->reg, a->tenant, 1, err) : NULL;
    if (a->n > 0 && db == NULL) {
        rc = -1;
        goto done;
    }
    tsdb_series_in_t *in = xcalloc(a->n + 1, sizeof(*in));
    label_t *pairs = NULL;
    size_t total = 0, w = 0;
    for (size_t i = 0; i < a->n; i++) {
        total += labels_len(a->items[i].ls);
    }
    pairs = xcalloc(total + 1, sizeof(*pairs));
    for (size_t i = 0; i < a->n; i++) {
        size_t nl = labels_len(a->items[i].ls);
        in[i].labels = pairs + w;
        in[i].n_labels = nl;
        for (size_t k = 0; k < nl; k++) {
            pairs[w++] = labels_at(a->items[i].ls, k);
        }
        in[i].samples = &a->items[i].s;
        in[i].n_samples = 1;
    }
    tsdb_append_result_t res;
    rc = a->n > 0 ? tsdb_append(db, in, a->n, 0, &res, err) : 0;
    if (rc == 0 && a->n > 0 && err_is_set(&res.first)) {
        rc = err_set(err, res.first.code, "%s", res.first.msg);
    }
    free(pairs);
    free(in);
done:
    app_free(a);
    return rc;
}

static const appender_ops_t app_ops = {app_append, app_commit, app_rollback};

appender_t *tsdb_appender(tsdb_registry_t *r, const char *tenant)
{
    tapp_t *a = xcalloc(1, sizeof(*a));
    a->base.ops = &app_ops;
    a->reg = r;
    a->tenant = xstrdup(tenant);
    return &a->base;
}
