/* common/metrics.c - the process-wide self-metrics registry and its text exposition
 * (format 0.0.4, byte for byte as Prometheus' Go client writes it).
 *
 * DESIGN: `registry.mu` guards only the name -> family map; families are never freed.
 * Each family has a rwlock over its children map (key: the label values, length-prefixed);
 * a child's numbers are atomics (doubles stored as uint64 bits, updated by CAS), so an
 * update holds the family lock shared (finding the child, and keeping a concurrent
 * delete from freeing it mid-update); only creating or deleting children takes it
 * exclusively. Lock order: registry, then
 * one family. Histograms keep per-bucket (non-cumulative) counts; the exposition sums them,
 * so _count always equals the +Inf bucket. Process metrics (process_*) are registered with
 * the registry, read from /proc at scrape time, as the Go client does by default. */
#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/gofloat.h"
#include "common/hashmap.h"
#include "common/mem.h"
#include "common/metrics.h"

typedef enum { FAM_COUNTER, FAM_GAUGE, FAM_HISTOGRAM, FAM_FUNC } fam_type_t;

typedef struct {
    char **values;     /* one per label name */
    uint64_t bits;     /* counter/gauge value (double bits) */
    uint64_t *buckets; /* histogram: n_bounds + 1 counts, the last is +Inf */
    uint64_t sum_bits; /* histogram sum (double bits) */
} child_t;

struct metric {
    char *name, *help;
    fam_type_t type;
    int is_counter; /* FAM_FUNC: exposed as counter, else gauge */
    char **label_names;
    size_t n_labels;
    double *bounds; /* histogram upper bounds, ascending, without +Inf */
    size_t n_bounds;
    double (*fn)(void *);
    void *fn_arg;
    pthread_rwlock_t mu; /* guards children */
    hashmap_t children;  /* key -> child_t* */
};

static struct {
    pthread_mutex_t mu; /* guards by_name */
    hashmap_t by_name;  /* name -> metric_t*, never removed */
    pthread_once_t once;
} registry = {.mu = PTHREAD_MUTEX_INITIALIZER, .once = PTHREAD_ONCE_INIT};

static const double default_buckets[] = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};

static void register_process_metrics(void);

static void registry_init(void)
{
    hashmap_init(&registry.by_name);
    register_process_metrics();
}

/* ---- atomic doubles ------------------------------------------------------------------ */

static double bits_to_double(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof(d));
    return d;
}

static uint64_t double_to_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof(b));
    return b;
}

static double atomic_load_double(const uint64_t *p)
{
    return bits_to_double(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static void atomic_add_double(uint64_t *p, double v)
{
    uint64_t old = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(p, &old, double_to_bits(bits_to_double(old) + v), 1,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

/* ---- families ------------------------------------------------------------------------ */

static void parse_label_names(metric_t *m, const char *names)
{
    if (names == NULL || *names == '\0') {
        return;
    }
    for (const char *p = names;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        while (len > 0 && (*p == ' ')) {
            p++, len--;
        }
        while (len > 0 && p[len - 1] == ' ') {
            len--;
        }
        m->label_names = xrealloc(m->label_names, (m->n_labels + 1) * sizeof(char *));
        m->label_names[m->n_labels++] = xstrndup(p, len);
        if (comma == NULL) {
            break;
        }
        p = comma + 1;
    }
}

static child_t *child_new(const metric_t *m, const char *const *values)
{
    child_t *c = xcalloc(1, sizeof(*c));
    c->values = xcalloc(m->n_labels + 1, sizeof(char *));
    for (size_t i = 0; i < m->n_labels; i++) {
        c->values[i] = xstrdup(values[i]);
    }
    if (m->type == FAM_HISTOGRAM) {
        c->buckets = xcalloc(m->n_bounds + 1, sizeof(uint64_t));
    }
    return c;
}

static void child_free(const metric_t *m, child_t *c)
{
    for (size_t i = 0; i < m->n_labels; i++) {
        free(c->values[i]);
    }
    free(c->values);
    free(c->buckets);
    free(c);
}

/* The children map key: each value as "<len>:<bytes>", so any bytes are safe. Written to
 * `stack` (size n) when it fits, else to the heap: free it if it is not `stack`. */
static char *child_key(const metric_t *m, const char *const *values, char *stack, size_t n)
{
    size_t need = 1;
    for (size_t i = 0; i < m->n_labels; i++) {
        need += strlen(values[i]) + 21; /* digits of a size_t and ':' */
    }
    char *key = need <= n ? stack : xmalloc(need);
    char *at = key;
    for (size_t i = 0; i < m->n_labels; i++) { /* by hand: snprintf dominated updates */
        size_t len = strlen(values[i]);
        char digits[24];
        int nd = 0;
        do {
            digits[nd++] = (char)('0' + len % 10);
            len /= 10;
        } while (len > 0);
        while (nd > 0) {
            *at++ = digits[--nd];
        }
        *at++ = ':';
        len = strlen(values[i]);
        memcpy(at, values[i], len);
        at += len;
    }
    *at = '\0';
    return key;
}

/* Returns the existing family of that name (the type must match), or registers a new one
 * from the fields of `tmpl` (taking over its bounds array). */
static metric_t *family_register(const metric_t *tmpl, const char *label_names)
{
    pthread_once(&registry.once, registry_init);
    pthread_mutex_lock(&registry.mu);
    metric_t *m = hashmap_get(&registry.by_name, tmpl->name);
    if (m != NULL) {
        pthread_mutex_unlock(&registry.mu);
        if (m->type != tmpl->type) {
            abort(); /* one name, two types: a programming error */
        }
        return m;
    }
    m = xcalloc(1, sizeof(*m));
    *m = *tmpl;
    m->name = xstrdup(tmpl->name);
    m->help = xstrdup(tmpl->help != NULL ? tmpl->help : "");
    pthread_rwlock_init(&m->mu, NULL);
    hashmap_init(&m->children);
    parse_label_names(m, label_names);
    if (m->n_labels == 0 && m->type != FAM_FUNC) {
        /* An unlabelled metric is exposed (as 0) from registration on, as in Go. */
        hashmap_put(&m->children, "", child_new(m, NULL));
    }
    hashmap_put(&registry.by_name, m->name, m);
    pthread_mutex_unlock(&registry.mu);
    return m;
}

metric_t *metric_counter(const char *name, const char *help, const char *label_names)
{
    metric_t t = {.name = (char *)name, .help = (char *)help, .type = FAM_COUNTER};
    return family_register(&t, label_names);
}

metric_t *metric_gauge(const char *name, const char *help, const char *label_names)
{
    metric_t t = {.name = (char *)name, .help = (char *)help, .type = FAM_GAUGE};
    return family_register(&t, label_names);
}

metric_t *metric_histogram(const char *name, const char *help, const char *label_names,
                           const double *buckets, size_t n_buckets)
{
    if (buckets == NULL) {
        buckets = default_buckets;
        n_buckets = sizeof(default_buckets) / sizeof(default_buckets[0]);
    }
    double *bounds = xcalloc(n_buckets + 1, sizeof(double));
    memcpy(bounds, buckets, n_buckets * sizeof(double));
    metric_t t = {.name = (char *)name,
                  .help = (char *)help,
                  .type = FAM_HISTOGRAM,
                  .bounds = bounds,
                  .n_bounds = n_buckets};
    metric_t *m = family_register(&t, label_names);
    if (m->bounds != bounds) { /* registered before: the first bounds stay */
        free(bounds);
    }
    return m;
}

void metric_func(const char *name, const char *help, int is_counter, double (*fn)(void *),
                 void *arg)
{
    metric_t t = {.name = (char *)name,
                  .help = (char *)help,
                  .type = FAM_FUNC,
                  .is_counter = is_counter,
                  .fn = fn,
                  .fn_arg = arg};
    family_register(&t, NULL);
}

/* ---- children ------------------------------------------------------------------------ */

/* Finds or creates the child for the label values in `ap` and returns it with m->mu held
 * shared, so that metric_delete_by_first_label cannot free it during the update (updates
 * are atomics, safe under a shared lock). Release with pthread_rwlock_unlock(&m->mu). */
static child_t *child_lock(metric_t *m, va_list ap)
{
    const char *stack_values[8];
    const char **values = m->n_labels <= 8 ? stack_values : xcalloc(m->n_labels, sizeof(char *));
    for (size_t i = 0; i < m->n_labels; i++) {
        const char *v = va_arg(ap, const char *);
        values[i] = v != NULL ? v : "";
    }
    char stack_key[256];
    char *key = child_key(m, values, stack_key, sizeof(stack_key));
    pthread_rwlock_rdlock(&m->mu);
    child_t *c = hashmap_get(&m->children, key);
    while (c == NULL) {
        pthread_rwlock_unlock(&m->mu);
        pthread_rwlock_wrlock(&m->mu);
        if (hashmap_get(&m->children, key) == NULL) { /* another thread may have won */
            hashmap_put(&m->children, key, child_new(m, values));
        }
        pthread_rwlock_unlock(&m->mu);
        pthread_rwlock_rdlock(&m->mu);
        c = hashmap_get(&m->children, key); /* NULL again only if deleted meanwhile */
    }
    if (key != stack_key) {
        free(key);
    }
    if (values != stack_values) {
        free(values);
    }
    return c;
}

void metric_add(metric_t *m, double v, ...)
{
    va_list ap;
    va_start(ap, v);
    child_t *c = child_lock(m, ap);
    va_end(ap);
    atomic_add_double(&c->bits, v);
    pthread_rwlock_unlock(&m->mu);
}

void metric_set(metric_t *m, double v, ...)
{
    va_list ap;
    va_start(ap, v);
    child_t *c = child_lock(m, ap);
    va_end(ap);
    __atomic_store_n(&c->bits, double_to_bits(v), __ATOMIC_RELAXED);
    pthread_rwlock_unlock(&m->mu);
}

void metric_observe(metric_t *m, double v, ...)
{
    if (m->type != FAM_HISTOGRAM) {
        abort(); /* a programming error, made loud rather than a NULL bucket write */
    }
    va_list ap;
    va_start(ap, v);
    child_t *c = child_lock(m, ap);
    va_end(ap);
    size_t i = 0;
    while (i < m->n_bounds && v > m->bounds[i]) { /* first bound >= v, as Go's search */
        i++;
    }
    __atomic_fetch_add(&c->buckets[i], 1, __ATOMIC_RELAXED);
    atomic_add_double(&c->sum_bits, v);
    pthread_rwlock_unlock(&m->mu);
}

static uint64_t histogram_count(const metric_t *m, const child_t *c)
{
    uint64_t n = 0;
    for (size_t i = 0; i <= m->n_bounds; i++) {
        n += __atomic_load_n(&c->buckets[i], __ATOMIC_RELAXED);
    }
    return n;
}

double metric_get(metric_t *m, ...)
{
    if (m->type == FAM_FUNC) {
        return m->fn(m->fn_arg);
    }
    va_list ap;
    va_start(ap, m);
    child_t *c = child_lock(m, ap);
    va_end(ap);
    double v = m->type == FAM_HISTOGRAM ? (double)histogram_count(m, c)
                                        : atomic_load_double(&c->bits);
    pthread_rwlock_unlock(&m->mu);
    return v;
}

void metric_delete_by_first_label(metric_t *m, const char *value)
{
    if (m->n_labels == 0) {
        return;
    }
    pthread_rwlock_wrlock(&m->mu);
    size_t it = 0;
    const char *k;
    void *v;
    while (hashmap_next(&m->children, &it, &k, &v)) {
        child_t *c = v;
        if (strcmp(c->values[0], value) == 0) {
            hashmap_del(&m->children, k);
            child_free(m, c);
        }
    }
    pthread_rwlock_unlock(&m->mu);
}

/* ---- exposition ---------------------------------------------------------------------- */

void metrics_format_float(double v, char *out, size_t n)
{
    gofloat_format(v, 'g', -1, out, n);
}

static void write_escaped(buf_t *out, const char *s, int quote)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\') {
            buf_puts(out, "\\\\");
        } else if (*s == '\n') {
            buf_puts(out, "\\n");
        } else if (*s == '"' && quote) {
            buf_puts(out, "\\\"");
        } else {
            buf_putc(out, *s);
        }
    }
}

/* One line `<name><suffix>{a="x",b="y"[,le="..."]} value` of family m; c holds the label
 * values (NULL for label-less function metrics); le is the bucket bound or NULL. */
static void write_sample(buf_t *out, const metric_t *m, const char *suffix, const child_t *c,
                         const char *le, double v)
{
    char num[64];
    buf_printf(out, "%s%s", m->name, suffix);
    if (m->n_labels > 0 || le != NULL) {
        buf_putc(out, '{');
        for (size_t i = 0; i < m->n_labels; i++) {
            buf_printf(out, "%s%s=\"", i > 0 ? "," : "", m->label_names[i]);
            write_escaped(out, c->values[i], 1);
            buf_putc(out, '"');
        }
        if (le != NULL) {
            buf_printf(out, "%sle=\"%s\"", m->n_labels > 0 ? "," : "", le);
        }
        buf_putc(out, '}');
    }
    metrics_format_float(v, num, sizeof(num));
    buf_printf(out, " %s\n", num);
}

static void write_histogram(buf_t *out, const metric_t *m, const child_t *c)
{
    char le[64];
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= m->n_bounds; i++) {
        cumulative += __atomic_load_n(&c->buckets[i], __ATOMIC_RELAXED);
        if (i < m->n_bounds) {
            metrics_format_float(m->bounds[i], le, sizeof(le));
        } else {
            snprintf(le, sizeof(le), "+Inf");
        }
        write_sample(out, m, "_bucket", c, le, (double)cumulative);
    }
    write_sample(out, m, "_sum", c, NULL, atomic_load_double(&c->sum_bits));
    write_sample(out, m, "_count", c, NULL, (double)cumulative);
}

static int cmp_children(const void *a, const void *b, void *n_labels)
{
    const child_t *x = *(child_t *const *)a, *y = *(child_t *const *)b;
    for (size_t i = 0; i < *(const size_t *)n_labels; i++) {
        int c = strcmp(x->values[i], y->values[i]);
        if (c != 0) {
            return c;
        }
    }
    return 0;
}

/* Children sorted by label values, as the Go client orders them. */
static child_t **sorted_children(metric_t *m, size_t *n)
{
    child_t **list = xcalloc(hashmap_len(&m->children) + 1, sizeof(child_t *));
    size_t it = 0, k = 0;
    const char *key;
    void *v;
    while (hashmap_next(&m->children, &it, &key, &v)) {
        list[k++] = v;
    }
    qsort_r(list, k, sizeof(child_t *), cmp_children, &m->n_labels);
    *n = k;
    return list;
}

static void write_family(buf_t *out, metric_t *m)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    const char *type =
        m->type == FAM_FUNC ? (m->is_counter ? "counter" : "gauge") : type_names[m->type];
    if (m->type == FAM_FUNC) {
        buf_printf(out, "# HELP %s ", m->name);
        write_escaped(out, m->help, 0);
        buf_printf(out, "\n# TYPE %s %s\n", m->name, type);
        write_sample(out, m, "", NULL, NULL, m->fn(m->fn_arg));
        return;
    }
    pthread_rwlock_rdlock(&m->mu);
    size_t n;
    child_t **kids = sorted_children(m, &n);
    if (n > 0) { /* a labelled family without children is not exposed */
        buf_printf(out, "# HELP %s ", m->name);
        write_escaped(out, m->help, 0);
        buf_printf(out, "\n# TYPE %s %s\n", m->name, type);
    }
    for (size_t i = 0; i < n; i++) {
        if (m->type == FAM_HISTOGRAM) {
            write_histogram(out, m, kids[i]);
        } else {
            write_sample(out, m, "", kids[i], NULL, atomic_load_double(&kids[i]->bits));
        }
    }
    pthread_rwlock_unlock(&m->mu);
    free(kids);
}

static int cmp_families(const void *a, const void *b)
{
    return strcmp((*(metric_t *const *)a)->name, (*(metric_t *const *)b)->name);
}

void metrics_write(buf_t *out)
{
    pthread_once(&registry.once, registry_init);
    pthread_mutex_lock(&registry.mu);
    size_t n = 0, it = 0;
    metric_t **fams = xcalloc(hashmap_len(&registry.by_name) + 1, sizeof(metric_t *));
    const char *k;
    void *v;
    while (hashmap_next(&registry.by_name, &it, &k, &v)) {
        fams[n++] = v;
    }
    pthread_mutex_unlock(&registry.mu); /* families are never freed */
    qsort(fams, n, sizeof(metric_t *), cmp_families);
    for (size_t i = 0; i < n; i++) {
        write_family(out, fams[i]);
    }
    free(fams);
}

/* ---- process metrics (Linux /proc) --------------------------------------------------- */

typedef struct {
    double utime_ticks, stime_ticks, start_ticks, vsize, rss_pages;
} proc_stat_t;

/* Fields of /proc/self/stat after the `(comm)` field, which may hold spaces. */
static int read_proc_stat(proc_stat_t *st)
{
    char text[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (f == NULL) {
        return -1;
    }
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    char *p = strrchr(text, ')');
    if (p == NULL) {
        return -1;
    }
    double field[24] = {0}; /* field[0] is stat field 3 (state, read as 0) */
    char *save = NULL;
    int i = 0;
    for (char *tok = strtok_r(p + 1, " ", &save); tok != NULL && i < 24;
         tok = strtok_r(NULL, " ", &save)) {
        field[i++] = strtod(tok, NULL);
    }
    if (i < 22) {
        return -1;
    }
    *st = (proc_stat_t){field[11], field[12], field[19], field[20], field[21]};
    return 0;
}

static double proc_cpu_seconds(void *arg)
{
    proc_stat_t st;
    return read_proc_stat(&st) == 0
               ? (st.utime_ticks + st.stime_ticks) / (double)sysconf(_SC_CLK_TCK)
               : 0;
}

static double proc_rss_bytes(void *arg)
{
    proc_stat_t st;
    return read_proc_stat(&st) == 0 ? st.rss_pages * (double)sysconf(_SC_PAGESIZE) : 0;
}

static double proc_vsize_bytes(void *arg)
{
    proc_stat_t st;
    return read_proc_stat(&st) == 0 ? st.vsize : 0;
}

static double boot_time_seconds(void)
{
    char line[256];
    double btime = 0;
    FILE *f = fopen("/proc/stat", "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "btime ", 6) == 0) {
            btime = strtod(line + 6, NULL);
            break;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return btime;
}

static double proc_start_time(void *arg)
{
    proc_stat_t st;
    if (read_proc_stat(&st) != 0) {
        return 0;
    }
    return boot_time_seconds() + st.start_ticks / (double)sysconf(_SC_CLK_TCK);
}

static double proc_open_fds(void *arg)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) {
        return 0;
    }
    double n = 0;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n - 1; /* the descriptor opendir itself holds */
}

static double rlimit_value(int resource)
{
    struct rlimit rl;
    if (getrlimit(resource, &rl) != 0) {
        return 0;
    }
    return rl.rlim_cur == RLIM_INFINITY ? 18446744073709551615.0 : (double)rl.rlim_cur;
}

static double proc_max_fds(void *arg)
{
    return rlimit_value(RLIMIT_NOFILE);
}

static double proc_vmem_max(void *arg)
{
    return rlimit_value(RLIMIT_AS);
}

/* Called once, from registry_init, before any other family exists. */
static void register_process_metrics(void)
{
    static const struct {
        const char *name, *help;
        int is_counter;
        double (*fn)(void *);
    } procs[] = {
        {"process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", 1,
         proc_cpu_seconds},
        {"process_max_fds", "Maximum number of open file descriptors.", 0, proc_max_fds},
        {"process_open_fds", "Number of open file descriptors.", 0, proc_open_fds},
        {"process_resident_memory_bytes", "Resident memory size in bytes.", 0, proc_rss_bytes},
        {"process_start_time_seconds", "Start time of the process since unix epoch in seconds.", 0,
         proc_start_time},
        {"process_virtual_memory_bytes", "Virtual memory size in bytes.", 0, proc_vsize_bytes},
        {"process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes.",
         0, proc_vmem_max},
    };
    for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++) {
        metric_t *m = xcalloc(1, sizeof(*m));
        *m = (metric_t){.name = xstrdup(procs[i].name),
                        .help = xstrdup(procs[i].help),
                        .type = FAM_FUNC,
                        .is_counter = procs[i].is_counter,
                        .fn = procs[i].fn};
        pthread_rwlock_init(&m->mu, NULL);
        hashmap_init(&m->children);
        hashmap_put(&registry.by_name, m->name, m);
    }
}
