/* storage/logstore.c - the log store: tenant registry, streams, push (WAL first, then the
 * heads), tail subscriptions, and the background thread that fsyncs WALs, cuts and flushes
 * chunks and applies retention.
 *
 * DESIGN: a tenant is loaded lazily on its first push or read (index, then WAL replay) and
 * lives until close. A push holds the tenant lock while it adds entries to the heads,
 * writes one WAL write(2) with the accepted entries and, with wal_fsync_ms 0, fsyncs; an
 * I/O error rolls the heads back so nothing of the push stays visible. Tail callbacks run
 * after the lock is released, under the subscriptions' read lock, so unsubscribe (write
 * lock) returns only when no call is running. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/fs.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/timeutil.h"
#include "storage/logstore_int.h"

struct logstore_sub {
    char *tenant;
    logstore_tail_fn fn;
    void *arg;
    logstore_sub_t *next;
};

void logstore_opts_default(logstore_opts_t *o)
{
    *o = (logstore_opts_t){
        .dir = "./data/loki",
        .retention_ms = 0,
        .wal_fsync_ms = 1000,
        .chunk_target_bytes = 1536u << 10,
        .chunk_max_age_ms = 2 * 3600 * 1000,
        .chunk_idle_ms = 30 * 60 * 1000,
        .wal_checkpoint_bytes = 64u << 20,
    };
}

/* ---- streams ------------------------------------------------------------------------------ */

static void hash_key(const labels_t *ls, char out[17])
{
    snprintf(out, 17, "%016llx", (unsigned long long)labels_hash(ls));
}

ls_stream_t *ls__stream_find(ls_tenant_t *t, const labels_t *ls)
{
    char key[17];
    hash_key(ls, key);
    for (ls_stream_t *st = hashmap_get(&t->by_hash, key); st != NULL; st = st->next_same_hash) {
        if (labels_equal(st->labels, ls)) {
            return st;
        }
    }
    return NULL;
}

ls_stream_t *ls__stream_get(ls_tenant_t *t, const labels_t *ls, int64_t now_ms)
{
    ls_stream_t *st = ls__stream_find(t, ls);
    if (st != NULL) {
        return st;
    }
    char key[17];
    hash_key(ls, key);
    st = xcalloc(1, sizeof(*st));
    st->id = t->next_id++;
    st->labels = labels_intern(ls);
    st->head = ls__head_new();
    st->first_push_ms = now_ms;
    st->last_push_ms = now_ms;
    st->next_same_hash = hashmap_get(&t->by_hash, key);
    hashmap_put(&t->by_hash, key, st);
    xgrow((void **)&t->streams, &t->streams_cap, t->n_streams + 1, sizeof(ls_stream_t *));
    t->streams[t->n_streams++] = st;
    return st;
}

int ls__stream_live(const logstore_t *s, const ls_stream_t *st, int64_t now_ms)
{
    return st->head->n > 0 || now_ms - st->last_push_ms < s->o.chunk_idle_ms;
}

static void stream_free(ls_stream_t *st)
{
    labels_unref(st->labels);
    ls__head_unref(st->head);
    ls__blocks_unref(st->blocks);
    free(st);
}

/* ---- tenants ------------------------------------------------------------------------------ */

static void tenant_free(void *p)
{
    ls_tenant_t *t = p;
    for (size_t i = 0; i < t->n_streams; i++) {
        stream_free(t->streams[i]);
    }
    free(t->streams);
    hashmap_fini(&t->by_hash, NULL);
    ls__tenant_close_files(t);
    pthread_mutex_destroy(&t->mu);
    free(t->id);
    free(t->dir);
    free(t);
}

static ls_tenant_t *tenant_new(logstore_t *s, const char *id)
{
    ls_tenant_t *t = xcalloc(1, sizeof(*t));
    t->id = xstrdup(id);
    size_t n = strlen(s->dir) + strlen(id) + 2;
    t->dir = xmalloc(n);
    snprintf(t->dir, n, "%s/%s", s->dir, id);
    pthread_mutex_init(&t->mu, NULL);
    hashmap_init(&t->by_hash);
    t->wal_fd = -1;
    t->index_fd = -1;
    return t;
}

ls_tenant_t *ls__tenant_get(logstore_t *s, const char *tenant, int create, err_t *err)
{
    pthread_mutex_lock(&s->mu);
    ls_tenant_t *t = hashmap_get(&s->tenants, tenant);
    if (t == NULL && create) {
        if (strchr(tenant, '/') != NULL || strcmp(tenant, ".") == 0 || strcmp(tenant, "..") == 0 ||
            tenant[0] == '\0') {
            pthread_mutex_unlock(&s->mu);
            err_set(err, ERR_BAD_DATA, "invalid tenant ID %s", tenant);
            return NULL;
        }
        t = tenant_new(s, tenant);
        /* Loading under the registry lock keeps a half-loaded tenant invisible; it only
         * happens once per tenant per process. */
        if (ls__tenant_load(s, t, err) < 0) {
            tenant_free(t);
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
        hashmap_put(&s->tenants, tenant, t);
    }
    pthread_mutex_unlock(&s->mu);
    return t;
}

/* Loads every tenant found on disk, so that a restart replays all WALs at open. */
static int load_existing(logstore_t *s, err_t *err)
{
    DIR *d = opendir(s->dir);
    if (d == NULL) {
        return 0;
    }
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] != '.' && de->d_type == DT_DIR) {
            rc = ls__tenant_get(s, de->d_name, 1, err) != NULL ? 0 : -1;
        }
    }
    closedir(d);
    return rc;
}

/* ---- background ---------------------------------------------------------------------------- */

/* Snapshot of the tenant list: tenants are never freed before close. */
static ls_tenant_t **tenants_list(logstore_t *s, size_t *n)
{
    pthread_mutex_lock(&s->mu);
    ls_tenant_t **ts = xmalloc((hashmap_len(&s->tenants) + 1) * sizeof(*ts));
    size_t it = 0, k = 0;
    const char *key;
    void *v;
    while (hashmap_next(&s->tenants, &it, &key, &v)) {
        ts[k++] = v;
    }
    pthread_mutex_unlock(&s->mu);
    *n = k;
    return ts;
}

int logstore_maintain(logstore_t *s, int64_t now_ms, int force, err_t *err)
{
    size_t n;
    ls_tenant_t **ts = tenants_list(s, &n);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&ts[i]->mu);
        if (ls__flush(s, ts[i], now_ms, force, err) < 0 || ls__retain(s, ts[i], now_ms, err) < 0) {
            rc = -1;
        }
        pthread_mutex_unlock(&ts[i]->mu);
    }
    free(ts);
    return rc;
}

static void sync_all(logstore_t *s)
{
    size_t n;
    ls_tenant_t **ts = tenants_list(s, &n);
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&ts[i]->mu);
        ls__wal_sync(ts[i]);
        pthread_mutex_unlock(&ts[i]->mu);
    }
    free(ts);
}

#define LS_MAINT_EVERY_MS 10000

static void *bg_main(void *arg)
{
    logstore_t *s = arg;
    int64_t tick = s->o.wal_fsync_ms > 0 && s->o.wal_fsync_ms < 1000 ? s->o.wal_fsync_ms : 1000;
    int64_t next_maint = time_mono_ms() + LS_MAINT_EVERY_MS;
    pthread_mutex_lock(&s->bg_mu);
    while (!s->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += tick / 1000;
        until.tv_nsec += (tick % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&s->bg_cv, &s->bg_mu, &until);
        if (s->stopping) {
            break;
        }
        pthread_mutex_unlock(&s->bg_mu);
        sync_all(s);
        if (time_mono_ms() >= next_maint) {
            err_t err = {0};
            if (logstore_maintain(s, time_now_ms(), 0, &err) < 0) {
                LOG_ERROR("log store maintenance failed", KV_STR("err", err.msg));
            }
            next_maint = time_mono_ms() + LS_MAINT_EVERY_MS;
        }
        pthread_mutex_lock(&s->bg_mu);
    }
    pthread_mutex_unlock(&s->bg_mu);
    return NULL;
}

/* ---- open / close --------------------------------------------------------------------------- */

logstore_t *logstore_open(const logstore_opts_t *o, err_t *err)
{
    logstore_t *s = xcalloc(1, sizeof(*s));
    s->o = *o;
    s->dir = xstrdup(o->dir != NULL && o->dir[0] != '\0' ? o->dir : "./data/loki");
    s->o.dir = s->dir;
    pthread_mutex_init(&s->mu, NULL);
    pthread_rwlock_init(&s->subs_mu, NULL);
    pthread_mutex_init(&s->bg_mu, NULL);
    pthread_cond_init(&s->bg_cv, NULL);
    hashmap_init(&s->tenants);
    if (fs_mkdir_p(s->dir, err) < 0) {
        err_wrap(err, "log store");
        goto fail;
    }
    if (load_existing(s, err) < 0) {
        goto fail;
    }
    if (pthread_create(&s->bg, NULL, bg_main, s) != 0) {
        err_set(err, ERR_INTERNAL, "log store: cannot start its thread");
        goto fail;
    }
    s->bg_running = 1;
    return s;
fail:
    logstore_close(s);
    return NULL;
}

void logstore_close(logstore_t *s)
{
    if (s == NULL) {
        return;
    }
    if (s->bg_running) {
        pthread_mutex_lock(&s->bg_mu);
        s->stopping = 1;
        pthread_cond_signal(&s->bg_cv);
        pthread_mutex_unlock(&s->bg_mu);
        pthread_join(s->bg, NULL);
        err_t err = {0};
        if (logstore_maintain(s, time_now_ms(), 1, &err) < 0) {
            LOG_ERROR("log store final flush failed", KV_STR("err", err.msg));
        }
    }
    hashmap_fini(&s->tenants, tenant_free);
    while (s->subs != NULL) {
        logstore_sub_t *next = s->subs->next;
        free(s->subs->tenant);
        free(s->subs);
        s->subs = next;
    }
    pthread_mutex_destroy(&s->mu);
    pthread_rwlock_destroy(&s->subs_mu);
    pthread_mutex_destroy(&s->bg_mu);
    pthread_cond_destroy(&s->bg_cv);
    free(s->dir);
    free(s);
}

/* ---- push ------------------------------------------------------------------------------------ */

typedef struct {
    ls_stream_t *st;
    size_t saved_n;
    log_entry_t *accepted; /* copies of the caller's entries (borrowed strings) */
    size_t n_accepted;
} push_part_t;

/* Adds one stream's entries to its head and its WAL frame. */
static void push_stream(ls_tenant_t *t, const log_stream_push_t *p, int64_t now_ms,
                        push_part_t *part, buf_t *wal)
{
    part->st = ls__stream_get(t, p->labels, now_ms);
    part->saved_n = part->st->head->n;
    part->accepted = xmalloc((p->n_entries > 0 ? p->n_entries : 1) * sizeof(log_entry_t));
    const log_entry_t **acc = xmalloc((p->n_entries > 0 ? p->n_entries : 1) * sizeof(*acc));
    for (size_t i = 0; i < p->n_entries; i++) {
        if (ls__head_add(part->st->head, &p->entries[i])) {
            acc[part->n_accepted] = &p->entries[i];
            part->accepted[part->n_accepted++] = p->entries[i];
        }
    }
    if (part->n_accepted > 0) {
        if (part->st->head->n == part->n_accepted) {
            part->st->first_push_ms = now_ms;
        }
        ls__wal_record(wal, part->st->labels, acc, part->n_accepted);
    }
    free(acc);
}

static void notify(logstore_t *s, const char *tenant, const push_part_t *parts, size_t n)
{
    pthread_rwlock_rdlock(&s->subs_mu);
    for (logstore_sub_t *sub = s->subs; sub != NULL; sub = sub->next) {
        if (strcmp(sub->tenant, tenant) != 0) {
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            if (parts[i].n_accepted > 0) {
                sub->fn(sub->arg, parts[i].st->labels, parts[i].accepted, parts[i].n_accepted);
            }
        }
    }
    pthread_rwlock_unlock(&s->subs_mu);
}

int logstore_push(logstore_t *s, const char *tenant, const log_stream_push_t *streams, size_t n,
                  err_t *err)
{
    ls_tenant_t *t = ls__tenant_get(s, tenant, 1, err);
    if (t == NULL) {
        return -1;
    }
    push_part_t *parts = xcalloc(n > 0 ? n : 1, sizeof(*parts));
    buf_t wal;
    buf_init(&wal);
    int64_t now_ms = time_now_ms();
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < n; i++) {
        push_stream(t, &streams[i], now_ms, &parts[i], &wal);
    }
    int rc = wal.len > 0 ? ls__wal_append(s, t, &wal, err) : 0;
    for (size_t i = 0; i < n; i++) {
        if (rc < 0) {
            ls__head_truncate(parts[i].st->head, parts[i].saved_n);
        } else if (parts[i].n_accepted > 0) {
            parts[i].st->last_push_ms = now_ms;
        }
    }
    pthread_mutex_unlock(&t->mu);
    buf_fini(&wal);
    if (rc == 0) {
        notify(s, tenant, parts, n);
    }
    for (size_t i = 0; i < n; i++) {
        free(parts[i].accepted);
    }
    free(parts);
    return rc;
}

size_t logstore_stream_count(logstore_t *s, const char *tenant)
{
    ls_tenant_t *t = ls__tenant_get(s, tenant, 0, NULL);
    if (t == NULL) {
        return 0;
    }
    int64_t now_ms = time_now_ms();
    size_t n = 0;
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->n_streams; i++) {
        n += (size_t)ls__stream_live(s, t->streams[i], now_ms);
    }
    pthread_mutex_unlock(&t->mu);
    return n;
}

int logstore_has_stream(logstore_t *s, const char *tenant, const labels_t *ls)
{
    ls_tenant_t *t = ls__tenant_get(s, tenant, 0, NULL);
    if (t == NULL) {
        return 0;
    }
    pthread_mutex_lock(&t->mu);
    ls_stream_t *st = ls__stream_find(t, ls);
    int live = st != NULL && ls__stream_live(s, st, time_now_ms());
    pthread_mutex_unlock(&t->mu);
    return live;
}

/* ---- subscriptions ------------------------------------------------------------------------ */

logstore_sub_t *logstore_subscribe(logstore_t *s, const char *tenant, logstore_tail_fn fn,
                                   void *arg)
{
    logstore_sub_t *sub = xcalloc(1, sizeof(*sub));
    sub->tenant = xstrdup(tenant);
    sub->fn = fn;
    sub->arg = arg;
    pthread_rwlock_wrlock(&s->subs_mu);
    sub->next = s->subs;
    s->subs = sub;
    pthread_rwlock_unlock(&s->subs_mu);
    return sub;
}

void logstore_unsubscribe(logstore_t *s, logstore_sub_t *sub)
{
    if (sub == NULL) {
        return;
    }
    pthread_rwlock_wrlock(&s->subs_mu);
    for (logstore_sub_t **p = &s->subs; *p != NULL; p = &(*p)->next) {
        if (*p == sub) {
            *p = sub->next;
            break;
        }
    }
    pthread_rwlock_unlock(&s->subs_mu);
    free(sub->tenant);
    free(sub);
}
