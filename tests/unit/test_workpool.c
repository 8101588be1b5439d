/* tests/unit/test_workpool.c - workpool: FIFO order, full queue, wait_idle, free drains. */
#include <pthread.h>
#include <unistd.h>

#include "common/workpool.h"
#include "test.h"

typedef struct {
    pthread_mutex_t mu;
    int order[64];
    int n;
} record_t;

typedef struct {
    record_t *rec;
    int id;
} rec_job_t;

static void record_job(void *arg)
{
    rec_job_t *j = arg;
    pthread_mutex_lock(&j->rec->mu);
    j->rec->order[j->rec->n++] = j->id;
    pthread_mutex_unlock(&j->rec->mu);
}

/* A job that blocks until the test opens the gate, to hold the only worker busy. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open, entered;
} gate_t;

static void gate_job(void *arg)
{
    gate_t *g = arg;
    pthread_mutex_lock(&g->mu);
    g->entered = 1;
    pthread_cond_broadcast(&g->cv);
    while (!g->open) {
        pthread_cond_wait(&g->cv, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
}

static void gate_wait_entered(gate_t *g)
{
    pthread_mutex_lock(&g->mu);
    while (!g->entered) {
        pthread_cond_wait(&g->cv, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
}

static void gate_open(gate_t *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void count_job(void *arg)
{
    usleep(200); /* long enough that jobs are still queued when free() starts */
    __atomic_fetch_add((int *)arg, 1, __ATOMIC_RELAXED);
}

TEST(single_thread_runs_jobs_in_fifo_order)
{
    record_t rec = {.mu = PTHREAD_MUTEX_INITIALIZER};
    rec_job_t jobs[20];
    workpool_t *wp = workpool_new("fifo", 1, 32);
    for (int i = 0; i < 20; i++) {
        jobs[i] = (rec_job_t){&rec, i};
        ASSERT_EQ(workpool_submit(wp, record_job, &jobs[i]), 0);
    }
    workpool_wait_idle(wp);
    ASSERT_EQ(rec.n, 20);
    for (int i = 0; i < 20; i++) {
        ASSERT_EQ(rec.order[i], i);
    }
    workpool_free(wp);
}

TEST(full_queue_refuses_then_accepts_again)
{
    gate_t g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    int count = 0;
    workpool_t *wp = workpool_new("full", 1, 3);
    ASSERT_EQ(workpool_submit(wp, gate_job, &g), 0);
    gate_wait_entered(&g); /* the worker is busy: the ring holds 3 more */
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(workpool_submit(wp, count_job, &count), 0);
    }
    ASSERT_EQ(workpool_queued(wp), 3);
    ASSERT_EQ(workpool_submit(wp, count_job, &count), -1);
    gate_open(&g);
    workpool_wait_idle(wp);
    ASSERT_EQ(workpool_queued(wp), 0);
    ASSERT_EQ(count, 3);
    ASSERT_EQ(workpool_submit(wp, count_job, &count), 0);
    workpool_wait_idle(wp);
    ASSERT_EQ(count, 4);
    workpool_free(wp);
}

TEST(wait_idle_waits_for_running_jobs)
{
    int count = 0;
    workpool_t *wp = workpool_new("idle", 4, 256);
    for (int i = 0; i < 200; i++) {
        ASSERT_EQ(workpool_submit(wp, count_job, &count), 0);
    }
    workpool_wait_idle(wp);
    ASSERT_EQ(__atomic_load_n(&count, __ATOMIC_RELAXED), 200);
    workpool_wait_idle(wp); /* idle already: returns at once */
    workpool_free(wp);
}

TEST(free_runs_every_queued_job)
{
    int count = 0;
    workpool_t *wp = workpool_new("drain", 2, 100);
    for (int i = 0; i < 100; i++) {
        ASSERT_EQ(workpool_submit(wp, count_job, &count), 0);
    }
    workpool_free(wp);
    ASSERT_EQ(count, 100);
    workpool_free(NULL);
}

static workpool_t *chain_pool;
static int chain_count;

/* Each link queues the next one: a job may submit to its own pool. */
static void chain_job(void *arg)
{
    if (__atomic_add_fetch(&chain_count, 1, __ATOMIC_RELAXED) < 10) {
        if (workpool_submit(chain_pool, chain_job, arg) != 0) {
            abort();
        }
    }
}

TEST(jobs_may_submit_more_jobs)
{
    chain_pool = workpool_new("chain", 2, 4);
    ASSERT_EQ(workpool_submit(chain_pool, chain_job, NULL), 0);
    /* wait_idle cannot return between links: the next is queued before a job ends. */
    workpool_wait_idle(chain_pool);
    ASSERT_EQ(chain_count, 10);
    workpool_free(chain_pool);
}
