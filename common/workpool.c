/* common/workpool.c - fixed worker threads over a bounded FIFO ring of jobs.
 *
 * DESIGN: one mutex guards the ring, the running count and the stop flag. Workers sleep on
 * `has_work`; wait_idle sleeps on `idle`, signalled when the ring is empty and the last
 * running job returns. workpool_free sets `stopping` (new submissions fail), and workers
 * exit only once the ring is empty, so every queued job still runs. A job must not call
 * workpool_wait_idle or workpool_free on its own pool (it would wait for itself). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/mem.h"
#include "common/workpool.h"

typedef struct {
    workpool_fn fn;
    void *arg;
} job_t;

struct workpool {
    char name[16];
    pthread_mutex_t mu;
    pthread_cond_t has_work; /* ring not empty, or stopping */
    pthread_cond_t idle;     /* ring empty and nothing running */
    job_t *ring;
    size_t cap, head, count; /* jobs at ring[(head + i) % cap], i < count */
    int running;
    int stopping;
    pthread_t *threads;
    int n_threads;
};

/* Called with mu held. */
static int take_job(workpool_t *wp, job_t *out)
{
    while (wp->count == 0 && !wp->stopping) {
        pthread_cond_wait(&wp->has_work, &wp->mu);
    }
    if (wp->count == 0) {
        return 0; /* stopping and drained */
    }
    *out = wp->ring[wp->head];
    wp->head = (wp->head + 1) % wp->cap;
    wp->count--;
    wp->running++;
    return 1;
}

static void *worker_main(void *arg)
{
    workpool_t *wp = arg;
    job_t job;
    pthread_mutex_lock(&wp->mu);
    while (take_job(wp, &job)) {
        pthread_mutex_unlock(&wp->mu);
        job.fn(job.arg);
        pthread_mutex_lock(&wp->mu);
        wp->running--;
        if (wp->count == 0 && wp->running == 0) {
            pthread_cond_broadcast(&wp->idle);
        }
    }
    pthread_mutex_unlock(&wp->mu);
    return NULL;
}

workpool_t *workpool_new(const char *name, int n_threads, size_t queue_cap)
{
    workpool_t *wp = xcalloc(1, sizeof(*wp));
    snprintf(wp->name, sizeof(wp->name), "%s", name != NULL ? name : "workpool");
    pthread_mutex_init(&wp->mu, NULL);
    pthread_cond_init(&wp->has_work, NULL);
    pthread_cond_init(&wp->idle, NULL);
    wp->cap = queue_cap > 0 ? queue_cap : 1;
    wp->ring = xcalloc(wp->cap, sizeof(job_t));
    wp->n_threads = n_threads > 0 ? n_threads : 1;
    wp->threads = xcalloc((size_t)wp->n_threads, sizeof(pthread_t));
    for (int i = 0; i < wp->n_threads; i++) {
        if (pthread_create(&wp->threads[i], NULL, worker_main, wp) != 0) {
            abort(); /* as xmalloc: a process that cannot start its pool cannot work */
        }
        char tname[32];
        snprintf(tname, sizeof(tname), "%.11s-%d", wp->name, i);
        tname[15] = '\0'; /* the kernel keeps 15 bytes */
        pthread_setname_np(wp->threads[i], tname);
    }
    return wp;
}

int workpool_submit(workpool_t *wp, workpool_fn fn, void *arg)
{
    pthread_mutex_lock(&wp->mu);
    if (wp->stopping || wp->count == wp->cap) {
        pthread_mutex_unlock(&wp->mu);
        return -1;
    }
    wp->ring[(wp->head + wp->count) % wp->cap] = (job_t){fn, arg};
    wp->count++;
    pthread_cond_signal(&wp->has_work);
    pthread_mutex_unlock(&wp->mu);
    return 0;
}

void workpool_wait_idle(workpool_t *wp)
{
    pthread_mutex_lock(&wp->mu);
    while (wp->count > 0 || wp->running > 0) {
        pthread_cond_wait(&wp->idle, &wp->mu);
    }
    pthread_mutex_unlock(&wp->mu);
}

size_t workpool_queued(workpool_t *wp)
{
    pthread_mutex_lock(&wp->mu);
    size_t n = wp->count;
    pthread_mutex_unlock(&wp->mu);
    return n;
}

void workpool_free(workpool_t *wp)
{
    if (wp == NULL) {
        return;
    }
    pthread_mutex_lock(&wp->mu);
    wp->stopping = 1;
    pthread_cond_broadcast(&wp->has_work);
    pthread_mutex_unlock(&wp->mu);
    for (int i = 0; i < wp->n_threads; i++) {
        pthread_join(wp->threads[i], NULL);
    }
    pthread_cond_destroy(&wp->idle);
    pthread_cond_destroy(&wp->has_work);
    pthread_mutex_destroy(&wp->mu);
    free(wp->threads);
    free(wp->ring);
    free(wp);
}
