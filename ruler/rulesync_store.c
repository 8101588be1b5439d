/* ruler/rulesync_store.c - the set of Kubernetes objects herald-rulesync currently sees,
 * shared by its source (manifest directory or API watch) and its components, plus the
 * dispatch of the two source kinds. Every change bumps `gen` and wakes the components. */
#include <stdlib.h>
#include <string.h>

#include "ruler/rulesync_int.h"

void rulesync__store_init(rulesync_store_t *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->changed, NULL);
}

void rulesync__store_fini(rulesync_store_t *s)
{
    rulesync__objs_fini(&s->objs);
    pthread_cond_destroy(&s->changed);
    pthread_mutex_destroy(&s->mu);
}

static int same_object(const rulesync_obj_t *x, rulesync_obj_kind_t kind, const char *ns,
                       const char *name)
{
    return x->kind == kind && strcmp(x->ns, ns) == 0 && strcmp(x->name, name) == 0;
}

/* Caller holds s->mu. Removes the matching object (freeing it); 1 if one was there. */
static int remove_locked(rulesync_store_t *s, rulesync_obj_kind_t kind, const char *ns,
                         const char *name)
{
    for (size_t i = 0; i < s->objs.n; i++) {
        if (same_object(s->objs.items[i], kind, ns, name)) {
            rulesync__obj_free(s->objs.items[i]);
            s->objs.items[i] = s->objs.items[--s->objs.n];
            return 1;
        }
    }
    return 0;
}

static void put_locked(rulesync_store_t *s, rulesync_obj_t *o)
{
    remove_locked(s, o->kind, o->ns, o->name);
    rulesync__objs_push(&s->objs, o);
}

static void changed_locked(rulesync_store_t *s)
{
    s->gen++;
    pthread_cond_broadcast(&s->changed);
}

void rulesync__store_replace(rulesync_store_t *s, rulesync_obj_kind_t kind, rulesync_objs_t *objs)
{
    pthread_mutex_lock(&s->mu);
    size_t w = 0;
    for (size_t i = 0; i < s->objs.n; i++) {
        if (s->objs.items[i]->kind == kind) {
            rulesync__obj_free(s->objs.items[i]);
        } else {
            s->objs.items[w++] = s->objs.items[i];
        }
    }
    s->objs.n = w;
    for (size_t i = 0; i < objs->n; i++) {
        put_locked(s, objs->items[i]);
    }
    objs->n = 0;
    changed_locked(s);
    pthread_mutex_unlock(&s->mu);
}

void rulesync__store_replace_all(rulesync_store_t *s, rulesync_objs_t *objs)
{
    pthread_mutex_lock(&s->mu);
    rulesync__objs_fini(&s->objs);
    for (size_t i = 0; i < objs->n; i++) {
        put_locked(s, objs->items[i]);
    }
    objs->n = 0;
    s->ready = 1;
    changed_locked(s);
    pthread_mutex_unlock(&s->mu);
}

void rulesync__store_put(rulesync_store_t *s, rulesync_obj_t *o)
{
    pthread_mutex_lock(&s->mu);
    put_locked(s, o);
    changed_locked(s);
    pthread_mutex_unlock(&s->mu);
}

void rulesync__store_delete(rulesync_store_t *s, rulesync_obj_kind_t kind, const char *ns,
                            const char *name)
{
    pthread_mutex_lock(&s->mu);
    if (remove_locked(s, kind, ns, name)) {
        changed_locked(s);
    }
    pthread_mutex_unlock(&s->mu);
}

void rulesync__store_stop(rulesync_store_t *s)
{
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->mu);
}

/* ---- source dispatch ------------------------------------------------------------------------ */

void rulesync__source_rescan(rulesync_source_t *src)
{
    if (src != NULL && src->ops->rescan != NULL) {
        src->ops->rescan(src);
    }
}

void rulesync__source_status(rulesync_source_t *src, buf_t *out)
{
    if (src != NULL) {
        src->ops->status(src, out);
    }
}

void rulesync__source_stop(rulesync_source_t *src)
{
    if (src != NULL) {
        src->ops->stop(src);
    }
}
