/* alertmanager/am_silence.c - silences: validation, state (pending/active/expired),
 * matching, and the create/update/expire rules of Alertmanager's silence store.
 * Functions that take a tenant need tenant->mu held; they return copies of what changed so
 * the caller persists them after unlocking. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alertmanager/am_int.h"
#include "common/mem.h"

void am__uuid4(char out[37])
{
    unsigned char b[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, b, sizeof(b)) : -1;
    if (fd >= 0) {
        close(fd);
    }
    if (got != (ssize_t)sizeof(b)) {
        for (size_t i = 0; i < sizeof(b); i++) {
            b[i] = (unsigned char)random();
        }
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
}

static match_type_t smatcher_type(const am_smatcher_t *m)
{
    if (m->is_regex) {
        return m->is_equal ? MATCH_RE : MATCH_NRE;
    }
    return m->is_equal ? MATCH_EQ : MATCH_NEQ;
}

am_silence_t *am__silence_new(const am_smatcher_t *ms, size_t n, err_t *err)
{
    am_silence_t *s = xcalloc(1, sizeof(*s));
    s->matchers = xcalloc(n + 1, sizeof(*s->matchers));
    s->compiled = xcalloc(n + 1, sizeof(*s->compiled));
    s->n_matchers = n;
    for (size_t i = 0; i < n; i++) {
        s->matchers[i] = ms[i];
        s->matchers[i].name = xstrdup(ms[i].name);
        s->matchers[i].value = xstrdup(ms[i].value);
    }
    for (size_t i = 0; i < n; i++) {
        err_t e = {0};
        if (!labels_is_valid_name(ms[i].name, strlen(ms[i].name))) {
            err_set(err, ERR_BAD_DATA, "invalid label matcher %zu: invalid label name \"%s\"", i,
                    ms[i].name);
            goto fail;
        }
        s->compiled[i] = matcher_new_flags(smatcher_type(&ms[i]), ms[i].name, ms[i].value,
                                         MATCHER_AM_REGEX, &e);
        if (s->compiled[i] == NULL) {
            err_set(err, ERR_BAD_DATA, "invalid label matcher %zu: invalid regular expression "
                                       "\"%s\": %s",
                    i, ms[i].value, e.msg);
            goto fail;
        }
    }
    return s;
fail:
    am__silence_free(s);
    return NULL;
}

am_silence_t *am__silence_dup(const am_silence_t *src)
{
    am_silence_t *s = am__silence_new(src->matchers, src->n_matchers, NULL);
    if (s == NULL) {
        return NULL;
    }
    memcpy(s->id, src->id, sizeof(s->id));
    s->starts_ns = src->starts_ns;
    s->ends_ns = src->ends_ns;
    s->updated_ns = src->updated_ns;
    s->created_by = xstrdup(src->created_by != NULL ? src->created_by : "");
    s->comment = xstrdup(src->comment != NULL ? src->comment : "");
    return s;
}

void am__silence_free(am_silence_t *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->n_matchers; i++) {
        free((char *)s->matchers[i].name);
        free((char *)s->matchers[i].value);
        matcher_free(s->compiled[i]);
    }
    free(s->matchers);
    free(s->compiled);
    free(s->created_by);
    free(s->comment);
    free(s);
}

am_sil_state_t am__silence_state(const am_silence_t *s, int64_t now_ns)
{
    if (s->ends_ns <= now_ns) {
        return AM_SIL_EXPIRED;
    }
    return s->starts_ns <= now_ns ? AM_SIL_ACTIVE : AM_SIL_PENDING;
}

const char *am__silence_state_name(am_sil_state_t st)
{
    static const char *const names[] = {"active", "pending", "expired"};
    return names[st];
}

int am__silence_matches(const am_silence_t *s, const labels_t *ls)
{
    return am__matchers_match(s->compiled, s->n_matchers, ls);
}

/* validateSilence: at least one matcher, not all matching the empty string. */
static int silence_validate(const am_silence_t *s, err_t *err)
{
    int all_empty = 1;
    if (s->n_matchers == 0) {
        return err_set(err, ERR_BAD_DATA, "invalid silence: at least one matcher required");
    }
    for (size_t i = 0; i < s->n_matchers; i++) {
        all_empty = all_empty && matcher_matches_empty(s->compiled[i]);
    }
    if (all_empty) {
        return err_set(err, ERR_BAD_DATA,
                       "invalid silence: at least one matcher must not match the empty string");
    }
    if (s->ends_ns < s->starts_ns) {
        return err_set(err, ERR_BAD_DATA,
                       "invalid silence: end time must not be before start time");
    }
    return 0;
}

static int same_matchers(const am_silence_t *a, const am_silence_t *b)
{
    if (a->n_matchers != b->n_matchers) {
        return 0;
    }
    for (size_t i = 0; i < a->n_matchers; i++) {
        const am_smatcher_t *x = &a->matchers[i], *y = &b->matchers[i];
        if (strcmp(x->name, y->name) != 0 || strcmp(x->value, y->value) != 0 ||
            x->is_regex != y->is_regex || x->is_equal != y->is_equal) {
            return 0;
        }
    }
    return 1;
}

/* canUpdate: an update in place keeps matchers and only moves times forward sensibly. */
static int can_update(const am_silence_t *a, const am_silence_t *b, int64_t now_ns)
{
    if (!same_matchers(a, b)) {
        return 0;
    }
    switch (am__silence_state(a, now_ns)) {
    case AM_SIL_ACTIVE:
        return b->starts_ns == a->starts_ns && b->ends_ns >= now_ns;
    case AM_SIL_PENDING:
        return b->starts_ns >= now_ns;
    default:
        return 0;
    }
}

static void changed_add(am_changed_t *ch, const am_silence_t *s)
{
    if (ch->n < sizeof(ch->items) / sizeof(ch->items[0])) {
        ch->items[ch->n++] = am__silence_dup(s);
    }
}

static void expire_in_place(am_silence_t *s, int64_t now_ns)
{
    if (am__silence_state(s, now_ns) == AM_SIL_PENDING) {
        s->starts_ns = now_ns;
    }
    s->ends_ns = now_ns;
    s->updated_ns = now_ns;
}

/* ---- limits (Mimir's alertmanager_max_silences_count / _max_silence_size_bytes) -------- */

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* A length-delimited field of `len` bytes (field numbers here are all below 16). */
static size_t field_len(size_t len)
{
    return 1 + varint_len(len) + len;
}

static size_t str_field(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    return n > 0 ? field_len(n) : 0;
}

static size_t timestamp_field(int64_t ns)
{
    int64_t sec = ns / 1000000000, nanos = ns % 1000000000;
    size_t n = (sec != 0 ? 1 + varint_len((uint64_t)sec) : 0) +
               (nanos != 0 ? 1 + varint_len((uint64_t)nanos) : 0);
    return field_len(n);
}

/* Bytes of the silence as Alertmanager stores it (a MeshSilence protobuf: the silence with
 * id, matchers, start/end/update times, author and comment, plus its expiry), which is what
 * its size limit measures. */
static size_t silence_size(const am_silence_t *s, int64_t retention_ns)
{
    size_t n = str_field(s->id);
    for (size_t i = 0; i < s->n_matchers; i++) {
        const am_smatcher_t *m = &s->matchers[i];
        int type = m->is_regex ? (m->is_equal ? 1 : 3) : (m->is_equal ? 0 : 2);
        n += field_len((type != 0 ? 2 : 0) + str_field(m->name) + str_field(m->value));
    }
    n += timestamp_field(s->starts_ns) + timestamp_field(s->ends_ns) +
         timestamp_field(s->updated_ns) + str_field(s->created_by) + str_field(s->comment);
    return field_len(n) + timestamp_field(s->ends_ns + retention_ns);
}

static int check_size(am_tenant_t *t, const am_silence_t *s, const am_limits_t *l, err_t *err)
{
    int64_t retention_ms = t->am != NULL ? t->am->opts.retention_ms : 0;
    int64_t retention_ns = (retention_ms > 0 ? retention_ms : 120LL * 3600 * 1000) * 1000000;
    size_t n = silence_size(s, retention_ns);
    if (l->max_silence_size_bytes > 0 && n > (size_t)l->max_silence_size_bytes) {
        return err_set(err, ERR_BAD_DATA,
                       "silence exceeded maximum size: %zu bytes (limit: %d bytes)", n,
                       l->max_silence_size_bytes);
    }
    return 0;
}

int am__silence_set(am_tenant_t *t, am_silence_t *s, int64_t now_ns, am_changed_t *ch,
                    err_t *err)
{
    am_limits_t l;
    am__tenant_limits(t, &l);
    am_silence_t *prev = NULL;
    s->updated_ns = now_ns;
    if (silence_validate(s, err) < 0) {
        goto fail;
    }
    if (s->id[0] != '\0') {
        prev = hashmap_get(&t->silences, s->id);
        if (prev == NULL) {
            err_set(err, ERR_NOT_FOUND, "not found");
            goto fail;
        }
        if (can_update(prev, s, now_ns)) {
            if (check_size(t, s, &l, err) < 0) {
                goto fail;
            }
            hashmap_put(&t->silences, s->id, s);
            am__silence_free(prev);
            changed_add(ch, s);
            return 0;
        }
    }
    /* A new silence, or a replacement (a new silence too): room for one more? */
    size_t held = hashmap_len(&t->silences);
    if (l.max_silences_count > 0 && held + 1 > (size_t)l.max_silences_count) {
        err_set(err, ERR_BAD_DATA, "exceeded maximum number of silences: %zu (limit: %d)", held,
                l.max_silences_count);
        goto fail;
    }
    am__uuid4(s->id);
    if (s->starts_ns < now_ns) {
        s->starts_ns = now_ns;
    }
    if (check_size(t, s, &l, err) < 0) {
        goto fail;
    }
    /* The replaced silence is expired (if still running), leaving its history. */
    if (prev != NULL && am__silence_state(prev, now_ns) != AM_SIL_EXPIRED) {
        expire_in_place(prev, now_ns);
        changed_add(ch, prev);
    }
    hashmap_put(&t->silences, s->id, s);
    changed_add(ch, s);
    return 0;
fail:
    am__silence_free(s);
    return -1;
}

int am__silence_expire(am_tenant_t *t, const char *id, int64_t now_ns, am_changed_t *ch,
                       err_t *err)
{
    am_silence_t *s = hashmap_get(&t->silences, id);
    if (s == NULL) {
        return err_set(err, ERR_NOT_FOUND, "silence %s not found", id);
    }
    if (am__silence_state(s, now_ns) == AM_SIL_EXPIRED) {
        return err_set(err, ERR_INTERNAL, "silence %s already expired", id);
    }
    expire_in_place(s, now_ns);
    changed_add(ch, s);
    return 0;
}

void am__silences_gc(am_tenant_t *t, int64_t now_ns, int64_t retention_ns)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (hashmap_next(&t->silences, &it, &k, &v)) {
        am_silence_t *s = v;
        if (s->ends_ns + retention_ns <= now_ns) {
            hashmap_del(&t->silences, k);
            am__silence_free(s);
        }
    }
}

void am__changed_fini(am_changed_t *ch)
{
    for (size_t i = 0; i < ch->n; i++) {
        am__silence_free(ch->items[i]);
    }
    ch->n = 0;
}
