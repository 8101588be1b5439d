/* common/workpool.h - fixed pool of worker threads with a bounded FIFO job queue, for
 * background jobs (rule evaluation, notifications, compaction). Thread-safe. */
#ifndef HERALD_COMMON_WORKPOOL_H
#define HERALD_COMMON_WORKPOOL_H
#include <stddef.h>

typedef struct workpool workpool_t;
typedef void (*workpool_fn)(void *arg);

workpool_t *workpool_new(const char *name, int n_threads, size_t queue_cap);
/* Queues fn(arg). Returns -1 (job not queued) when the queue is full or the pool stops. */
int workpool_submit(workpool_t *wp, workpool_fn fn, void *arg);
/* Waits until the queue is empty and no job runs. */
void workpool_wait_idle(workpool_t *wp);
/* Runs queued jobs to completion, then joins the threads and frees. NULL is a no-op. */
void workpool_free(workpool_t *wp);
size_t workpool_queued(workpool_t *wp);

#endif
