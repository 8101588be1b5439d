/* tests/unit/test_core.c - err, arena, buf, log. */
#include <fcntl.h>
#include <unistd.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "test.h"

TEST(err_first_error_wins)
{
    err_t err = {0};
    ASSERT_EQ(err_set(&err, ERR_BAD_DATA, "first %d", 1), -1);
    err_set(&err, ERR_INTERNAL, "second");
    ASSERT_EQ(err.code, ERR_BAD_DATA);
    ASSERT_STR_EQ(err.msg, "first 1");
    ASSERT_EQ(err_status(err.code), 400);
    ASSERT_STR_EQ(err_type(err.code), "bad_data");
    err_wrap(&err, "ctx");
    ASSERT_STR_EQ(err.msg, "ctx: first 1");
}

TEST(err_status_table)
{
    ASSERT_EQ(err_status(ERR_EXECUTION), 422);
    ASSERT_EQ(err_status(ERR_TIMEOUT), 503);
    ASSERT_EQ(err_status(ERR_CANCELED), 499);
    ASSERT_EQ(err_status(ERR_NONE), 200);
    ASSERT_STR_EQ(err_type(ERR_TOO_MANY_REQUESTS), "too_many_requests");
}

static int cleanup_calls;
static void count_cleanup(void *arg)
{
    cleanup_calls += *(int *)arg;
}

TEST(arena_alloc_and_cleanups)
{
    err_t err = {0};
    arena_t *a = arena_new(0, &err);
    int one = 1, ten = 10;
    char *s = arena_sprintf(a, "%s-%d", "x", 42);
    ASSERT_STR_EQ(s, "x-42");
    for (int i = 0; i < 10000; i++) {
        char *p = arena_alloc(a, (size_t)(i % 300) + 1);
        ASSERT_NOT_NULL(p);
        ASSERT_EQ(((uintptr_t)p) % 16, 0);
    }
    void *big = arena_alloc(a, 1 << 20);
    ASSERT_NOT_NULL(big);
    arena_on_free(a, count_cleanup, &one);
    arena_on_free(a, count_cleanup, &ten);
    arena_reset(a);
    ASSERT_EQ(cleanup_calls, 11);
    ASSERT_EQ(arena_used(a), 0);
    ASSERT_NOT_NULL(arena_strdup(a, "again"));
    arena_free(a);
    arena_free(NULL);
}

TEST(arena_budget_fails_with_execution_error)
{
    err_t err = {0};
    arena_t *a = arena_new(1000, &err);
    ASSERT_NOT_NULL(arena_alloc(a, 500));
    ASSERT_NULL(arena_alloc(a, 600));
    ASSERT_EQ(err.code, ERR_EXECUTION);
    arena_free(a);
}

TEST(buf_grows_and_steals)
{
    buf_t b;
    buf_init(&b);
    for (int i = 0; i < 1000; i++) {
        buf_printf(&b, "%d,", i);
    }
    ASSERT_EQ(strncmp(b.data, "0,1,2,", 6), 0);
    size_t n;
    char *d = buf_steal(&b, &n);
    ASSERT_EQ(n, strlen(d));
    ASSERT_NULL(b.data);
    free(d);
    buf_fini(&b);
}

TEST(log_writes_logfmt_line)
{
    char path[] = "/tmp/herald-log-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_TRUE(fd >= 0);
    log_set_fd(fd);
    LOG_INFO("hello world", KV_STR("tenant", "team-a"), KV_INT("n", 3), KV_STR("q", "a\"b"));
    LOG_DEBUG("hidden");
    log_set_fd(-1);
    char line[512] = {0};
    ssize_t n = pread(fd, line, sizeof(line) - 1, 0);
    close(fd);
    unlink(path);
    ASSERT_TRUE(n > 0);
    ASSERT_EQ(strncmp(line, "level=info ts=", 14), 0);
    ASSERT_NOT_NULL(strstr(line, " caller=tests/unit/test_core.c:"));
    ASSERT_NOT_NULL(strstr(line, " msg=\"hello world\" tenant=team-a n=3 q=\"a\\\"b\"\n"));
    ASSERT_NULL(strstr(line, "hidden"));
}
