/* tests/unit/test_metrics.c - metrics registry and the text exposition format 0.0.4. The
 * registry is process-wide, so each test uses its own metric names. */
#include <pthread.h>
#include <time.h>

#include "common/buf.h"
#include "common/metrics.h"
#include "test.h"

static char *scrape(void)
{
    buf_t b;
    buf_init(&b);
    metrics_write(&b);
    return buf_steal(&b, NULL);
}

/* The exposition block of one family: from its # HELP line to the next family's. */
static char *family_text(const char *name)
{
    char *all = scrape();
    char head[256];
    snprintf(head, sizeof(head), "# HELP %s ", name);
    char *start = strstr(all, head);
    char *out = NULL;
    if (start != NULL) {
        char *end = strstr(start + 1, "# HELP ");
        out = strndup(start, end != NULL ? (size_t)(end - start) : strlen(start));
    }
    free(all);
    return out != NULL ? out : strdup("(missing)");
}

static const char *fmt(double v)
{
    static char out[64];
    metrics_format_float(v, out, sizeof(out));
    return out;
}

TEST(float_format_matches_go)
{
    ASSERT_STR_EQ(fmt(0), "0");
    ASSERT_STR_EQ(fmt(-0.0), "-0");
    ASSERT_STR_EQ(fmt(1), "1");
    ASSERT_STR_EQ(fmt(100), "100");
    ASSERT_STR_EQ(fmt(123456), "123456");
    ASSERT_STR_EQ(fmt(1e6), "1e+06");
    ASSERT_STR_EQ(fmt(18591744), "1.8591744e+07");
    ASSERT_STR_EQ(fmt(0.25), "0.25");
    ASSERT_STR_EQ(fmt(0.1), "0.1");
    ASSERT_STR_EQ(fmt(0.0001), "0.0001");
    ASSERT_STR_EQ(fmt(0.00001), "1e-05");
    ASSERT_STR_EQ(fmt(1.5e-05), "1.5e-05");
    ASSERT_STR_EQ(fmt(1.0 / 3), "0.3333333333333333");
    ASSERT_STR_EQ(fmt(-2.5), "-2.5");
    ASSERT_STR_EQ(fmt(1.7e308), "1.7e+308");
    ASSERT_STR_EQ(fmt(NAN), "NaN");
    ASSERT_STR_EQ(fmt(INFINITY), "+Inf");
    ASSERT_STR_EQ(fmt(-INFINITY), "-Inf");
}

TEST(unlabelled_counter_is_exposed_from_registration)
{
    metric_t *c = metric_counter("t_plain_total", "Plain counter.", NULL);
    char *t = family_text("t_plain_total");
    ASSERT_STR_EQ(t, "# HELP t_plain_total Plain counter.\n"
                     "# TYPE t_plain_total counter\n"
                     "t_plain_total 0\n");
    free(t);
    metric_add(c, 2);
    metric_add(c, 0.5);
    ASSERT_DBL_EQ(metric_get(c), 2.5);
    ASSERT_TRUE(metric_counter("t_plain_total", "other help", NULL) == c);
    t = family_text("t_plain_total");
    ASSERT_STR_EQ(t, "# HELP t_plain_total Plain counter.\n"
                     "# TYPE t_plain_total counter\n"
                     "t_plain_total 2.5\n");
    free(t);
}

TEST(labelled_children_sorted_and_escaped)
{
    metric_t *g = metric_gauge("t_lab", "Help with \\ and\nnewline.", "user, reason");
    char *t = family_text("t_lab");
    ASSERT_STR_EQ(t, "(missing)"); /* no child yet: the family is not exposed */
    free(t);
    metric_set(g, 3, "b", "x");
    metric_set(g, 1, "a", "z");
    metric_add(g, 2, "a", "y");
    metric_add(g, -1, "a", "y");
    metric_set(g, 7, "q\"uo\\te\n", "r");
    t = family_text("t_lab");
    ASSERT_STR_EQ(t, "# HELP t_lab Help with \\\\ and\\nnewline.\n"
                     "# TYPE t_lab gauge\n"
                     "t_lab{user=\"a\",reason=\"y\"} 1\n"
                     "t_lab{user=\"a\",reason=\"z\"} 1\n"
                     "t_lab{user=\"b\",reason=\"x\"} 3\n"
                     "t_lab{user=\"q\\\"uo\\\\te\\n\",reason=\"r\"} 7\n");
    free(t);
    ASSERT_DBL_EQ(metric_get(g, "b", "x"), 3);
    metric_delete_by_first_label(g, "a");
    t = family_text("t_lab");
    ASSERT_TRUE(strstr(t, "user=\"a\"") == NULL);
    ASSERT_TRUE(strstr(t, "t_lab{user=\"b\",reason=\"x\"} 3\n") != NULL);
    free(t);
}

TEST(histogram_buckets_are_cumulative)
{
    static const double bounds[] = {0.1, 1, 10};
    metric_t *h = metric_histogram("t_hist_seconds", "A histogram.", "route", bounds, 3);
    metric_observe(h, 0.05, "/a");
    metric_observe(h, 0.1, "/a"); /* on the bound: counts in le="0.1" */
    metric_observe(h, 5, "/a");
    metric_observe(h, 100, "/a");
    char *t = family_text("t_hist_seconds");
    ASSERT_STR_EQ(t, "# HELP t_hist_seconds A histogram.\n"
                     "# TYPE t_hist_seconds histogram\n"
                     "t_hist_seconds_bucket{route=\"/a\",le=\"0.1\"} 2\n"
                     "t_hist_seconds_bucket{route=\"/a\",le=\"1\"} 2\n"
                     "t_hist_seconds_bucket{route=\"/a\",le=\"10\"} 3\n"
                     "t_hist_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4\n"
                     "t_hist_seconds_sum{route=\"/a\"} 105.15\n"
                     "t_hist_seconds_count{route=\"/a\"} 4\n");
    free(t);
    ASSERT_DBL_EQ(metric_get(h, "/a"), 4);
}

TEST(histogram_default_buckets_unlabelled)
{
    metric_t *h = metric_histogram("t_hist_default", "Default buckets.", NULL, NULL, 0);
    metric_observe(h, 0.3);
    char *t = family_text("t_hist_default");
    ASSERT_TRUE(strstr(t, "t_hist_default_bucket{le=\"0.005\"} 0\n") != NULL);
    ASSERT_TRUE(strstr(t, "t_hist_default_bucket{le=\"0.25\"} 0\n") != NULL);
    ASSERT_TRUE(strstr(t, "t_hist_default_bucket{le=\"0.5\"} 1\n") != NULL);
    ASSERT_TRUE(strstr(t, "t_hist_default_bucket{le=\"10\"} 1\n") != NULL);
    ASSERT_TRUE(strstr(t, "t_hist_default_bucket{le=\"+Inf\"} 1\n") != NULL);
    ASSERT_TRUE(strstr(t, "t_hist_default_sum 0.3\nt_hist_default_count 1\n") != NULL);
    free(t);
}

static double answer(void *arg)
{
    return *(double *)arg;
}

TEST(families_sorted_by_name_and_func_metrics)
{
    static double v = 42;
    metric_gauge("t_zz_last", "z", NULL);
    metric_func("t_aa_first", "Computed at scrape.", 0, answer, &v);
    metric_func("t_func_total", "Computed counter.", 1, answer, &v);
    char *all = scrape();
    char *a = strstr(all, "# HELP t_aa_first"), *z = strstr(all, "# HELP t_zz_last");
    ASSERT_TRUE(a != NULL && z != NULL && a < z);
    ASSERT_TRUE(strstr(all, "# TYPE t_aa_first gauge\nt_aa_first 42\n") != NULL);
    ASSERT_TRUE(strstr(all, "# TYPE t_func_total counter\nt_func_total 42\n") != NULL);
    /* Every family's block is in name order: each # HELP name sorts after the previous. */
    char prev[256] = "";
    for (char *p = strstr(all, "# HELP "); p != NULL; p = strstr(p + 1, "# HELP ")) {
        char name[256];
        sscanf(p + 7, "%255s", name);
        ASSERT_TRUE(strcmp(prev, name) < 0);
        snprintf(prev, sizeof(prev), "%s", name);
    }
    free(all);
}

static double sample_value(const char *all, const char *name)
{
    char pat[128];
    snprintf(pat, sizeof(pat), "\n%s ", name);
    const char *p = strstr(all, pat);
    return p != NULL ? strtod(p + strlen(pat), NULL) : -1;
}

TEST(process_metrics_are_plausible)
{
    char *all = scrape();
    double start = sample_value(all, "process_start_time_seconds");
    double now = (double)time(NULL);
    ASSERT_TRUE(start > now - 86400 && start <= now + 1);
    ASSERT_TRUE(sample_value(all, "process_resident_memory_bytes") > 1e5);
    ASSERT_TRUE(sample_value(all, "process_virtual_memory_bytes") >=
                sample_value(all, "process_resident_memory_bytes"));
    ASSERT_TRUE(sample_value(all, "process_open_fds") >= 3);
    ASSERT_TRUE(sample_value(all, "process_max_fds") >= sample_value(all, "process_open_fds"));
    ASSERT_TRUE(sample_value(all, "process_cpu_seconds_total") >= 0);
    ASSERT_TRUE(strstr(all, "# TYPE process_cpu_seconds_total counter\n") != NULL);
    free(all);
}

static metric_t *race_counter;

static void *race_worker(void *arg)
{
    for (int i = 0; i < 20000; i++) {
        metric_add(race_counter, 1, (i & 1) ? "odd" : "even");
    }
    return NULL;
}

TEST(concurrent_updates_are_not_lost)
{
    race_counter = metric_counter("t_race_total", "Race.", "parity");
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        pthread_create(&th[i], NULL, race_worker, NULL);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
    }
    ASSERT_DBL_EQ(metric_get(race_counter, "odd"), 40000);
    ASSERT_DBL_EQ(metric_get(race_counter, "even"), 40000);
}

static metric_t *churn_gauge;
static int churn_stop;

static void *churn_deleter(void *arg)
{
    while (!__atomic_load_n(&churn_stop, __ATOMIC_RELAXED)) {
        metric_delete_by_first_label(churn_gauge, "tenant-1");
    }
    return NULL;
}

TEST(delete_races_with_updates_safely)
{
    /* Updates of a tenant being deleted must never touch a freed child (ASan/TSan watch). */
    churn_gauge = metric_gauge("t_churn", "Churn.", "tenant");
    pthread_t th;
    pthread_create(&th, NULL, churn_deleter, NULL);
    for (int i = 0; i < 20000; i++) {
        metric_add(churn_gauge, 1, "tenant-1");
        metric_set(churn_gauge, 2, "tenant-2");
    }
    __atomic_store_n(&churn_stop, 1, __ATOMIC_RELAXED);
    pthread_join(th, NULL);
    ASSERT_DBL_EQ(metric_get(churn_gauge, "tenant-2"), 2);
    buf_t b;
    buf_init(&b);
    metrics_write(&b); /* scraping while children come and go must stay well-formed */
    ASSERT_TRUE(strstr(b.data, "t_churn{tenant=\"tenant-2\"} 2\n") != NULL);
    buf_fini(&b);
}

TEST(long_label_values)
{
    char big[600];
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    metric_t *c = metric_counter("t_long_total", "Long.", "a,b");
    metric_add(c, 1, big, "x");
    metric_add(c, 1, big, "x");
    ASSERT_DBL_EQ(metric_get(c, big, "x"), 2);
    ASSERT_DBL_EQ(metric_get(c, "x", big), 0); /* another child: order matters */
}
