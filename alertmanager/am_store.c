/* alertmanager/am_store.c - persistence of silences and the notification log: one sqlite
 * file per tenant, <data_dir>/<tenant>/state.db, opened per operation (idle tenants hold no
 * file descriptor). Each write is its own transaction, so a kill -9 loses at most the write
 * in progress. Callers hold no tenant lock (style: no sqlite under a tenant lock), except
 * am__store_load, which runs on a tenant not yet published. */
#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alertmanager/am_int.h"
#include "common/mem.h"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS silences(id TEXT PRIMARY KEY, body TEXT NOT NULL,"
    " updated_ns INTEGER NOT NULL, ends_ns INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS nflog(key TEXT PRIMARY KEY, ts_ns INTEGER NOT NULL,"
    " firing BLOB, resolved BLOB);";

static sqlite3 *db_open(am_t *am, const char *tenant, int create, err_t *err)
{
    char path[4096];
    sqlite3 *db = NULL;
    if (am->opts.data_dir == NULL || am->opts.data_dir[0] == '\0') {
        return NULL;
    }
    snprintf(path, sizeof(path), "%s/%s", am->opts.data_dir, tenant);
    if (create && mkdir(path, 0755) < 0 && errno != EEXIST) {
        err_set(err, ERR_INTERNAL, "mkdir %s: %s", path, strerror(errno));
        return NULL;
    }
    snprintf(path, sizeof(path), "%s/%s/state.db", am->opts.data_dir, tenant);
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        if (create) {
            err_set(err, ERR_INTERNAL, "open %s: %s", path, sqlite3_errmsg(db));
        }
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK) {
        err_set(err, ERR_INTERNAL, "init %s: %s", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

static char *silence_encode(const am_silence_t *s)
{
    json_t *ms = json_array();
    for (size_t i = 0; i < s->n_matchers; i++) {
        json_array_append_new(ms, json_pack("{s:s,s:s,s:b,s:b}", "name", s->matchers[i].name,
                                            "value", s->matchers[i].value, "isRegex",
                                            s->matchers[i].is_regex, "isEqual",
                                            s->matchers[i].is_equal));
    }
    json_t *o = json_pack("{s:s,s:o,s:I,s:I,s:I,s:s,s:s}", "id", s->id, "matchers", ms,
                          "startsAt", (json_int_t)s->starts_ns, "endsAt",
                          (json_int_t)s->ends_ns, "updatedAt", (json_int_t)s->updated_ns,
                          "createdBy", s->created_by != NULL ? s->created_by : "", "comment",
                          s->comment != NULL ? s->comment : "");
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

static am_silence_t *silence_decode(const char *text)
{
    json_t *o = json_loads(text, 0, NULL), *ms = json_object_get(o, "matchers");
    am_silence_t *s = NULL;
    size_t n = json_array_size(ms);
    am_smatcher_t *sm = xcalloc(n + 1, sizeof(*sm));
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(ms, i);
        sm[i].name = json_string_value(json_object_get(m, "name"));
        sm[i].value = json_string_value(json_object_get(m, "value"));
        sm[i].is_regex = json_is_true(json_object_get(m, "isRegex"));
        sm[i].is_equal = json_is_true(json_object_get(m, "isEqual"));
        if (sm[i].name == NULL || sm[i].value == NULL) {
            goto done;
        }
    }
    const char *id = json_string_value(json_object_get(o, "id"));
    if (id == NULL || (s = am__silence_new(sm, n, NULL)) == NULL) {
        goto done;
    }
    snprintf(s->id, sizeof(s->id), "%s", id);
    s->starts_ns = json_integer_value(json_object_get(o, "startsAt"));
    s->ends_ns = json_integer_value(json_object_get(o, "endsAt"));
    s->updated_ns = json_integer_value(json_object_get(o, "updatedAt"));
    const char *cb = json_string_value(json_object_get(o, "createdBy"));
    const char *cm = json_string_value(json_object_get(o, "comment"));
    s->created_by = xstrdup(cb != NULL ? cb : "");
    s->comment = xstrdup(cm != NULL ? cm : "");
done:
    free(sm);
    json_decref(o);
    return s;
}

int am__store_silence(am_t *am, const char *tenant, const am_silence_t *s, err_t *err)
{
    sqlite3 *db = db_open(am, tenant, 1, err);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (db == NULL) {
        return err_is_set(err) ? -1 : 0;
    }
    char *body = silence_encode(s);
    /* A slower writer must not overwrite a newer version of the same silence. */
    const char *sql = "INSERT INTO silences(id, body, updated_ns, ends_ns) VALUES(?,?,?,?) "
                      "ON CONFLICT(id) DO UPDATE SET body=excluded.body, "
                      "updated_ns=excluded.updated_ns, ends_ns=excluded.ends_ns "
                      "WHERE excluded.updated_ns >= silences.updated_ns";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, s->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, body, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, s->updated_ns);
        sqlite3_bind_int64(st, 4, s->ends_ns);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    }
    if (rc < 0) {
        err_set(err, ERR_INTERNAL, "store silence: %s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(body);
    return rc;
}

int am__store_nflog(am_t *am, const char *tenant, const char *key, const am_nflog_entry_t *e,
                    err_t *err)
{
    sqlite3 *db = db_open(am, tenant, 1, err);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (db == NULL) {
        return err_is_set(err) ? -1 : 0;
    }
    const char *sql = "INSERT OR REPLACE INTO nflog(key, ts_ns, firing, resolved) "
                      "VALUES(?,?,?,?)";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, e->ts_ns);
        sqlite3_bind_blob(st, 3, e->firing, (int)(e->n_firing * sizeof(uint64_t)),
                          SQLITE_STATIC);
        sqlite3_bind_blob(st, 4, e->resolved, (int)(e->n_resolved * sizeof(uint64_t)),
                          SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    }
    if (rc < 0) {
        err_set(err, ERR_INTERNAL, "store nflog: %s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

static void load_silences(am_tenant_t *t, sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT body FROM silences", -1, &st, NULL) != SQLITE_OK) {
        return;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        am_silence_t *s = silence_decode((const char *)sqlite3_column_text(st, 0));
        if (s != NULL) {
            am__silence_free(hashmap_put(&t->silences, s->id, s));
        }
    }
    sqlite3_finalize(st);
}

static uint64_t *blob_u64(sqlite3_stmt *st, int col, size_t *n)
{
    int bytes = sqlite3_column_bytes(st, col);
    const void *p = sqlite3_column_blob(st, col);
    *n = (size_t)bytes / sizeof(uint64_t);
    uint64_t *out = xcalloc(*n + 1, sizeof(uint64_t));
    if (p != NULL) {
        memcpy(out, p, *n * sizeof(uint64_t));
    }
    return out;
}

static void load_nflog(am_tenant_t *t, sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    const char *sql = "SELECT key, ts_ns, firing, resolved FROM nflog";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        return;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        am_nflog_entry_t *e = xcalloc(1, sizeof(*e));
        e->ts_ns = sqlite3_column_int64(st, 1);
        e->firing = blob_u64(st, 2, &e->n_firing);
        e->resolved = blob_u64(st, 3, &e->n_resolved);
        am__nflog_entry_free(
            hashmap_put(&t->nflog, (const char *)sqlite3_column_text(st, 0), e));
    }
    sqlite3_finalize(st);
}

int am__store_load(am_tenant_t *t, err_t *err)
{
    sqlite3 *db = db_open(t->am, t->id, 0, err);
    if (db == NULL) {
        return err_is_set(err) ? -1 : 0; /* nothing stored yet */
    }
    load_silences(t, db);
    load_nflog(t, db);
    sqlite3_close(db);
    return 0;
}

void am__store_gc(am_t *am, const char *tenant, int64_t now_ns)
{
    sqlite3 *db = db_open(am, tenant, 0, NULL);
    sqlite3_stmt *st = NULL;
    int64_t limit = now_ns - am->opts.retention_ms * AM_NS_PER_MS;
    if (db == NULL) {
        return;
    }
    const char *sql[] = {"DELETE FROM silences WHERE ends_ns < ?",
                         "DELETE FROM nflog WHERE ts_ns < ?"};
    for (size_t i = 0; i < 2; i++) {
        if (sqlite3_prepare_v2(db, sql[i], -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, limit);
            sqlite3_step(st);
        }
        sqlite3_finalize(st);
        st = NULL;
    }
    sqlite3_close(db);
}
