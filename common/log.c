/* common/log.c - see log.h. Lines are built in a stack buffer and written with one write(2). */
#include "common/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static struct {
    _Atomic int level;
    _Atomic int fd;
} logger = {LOG_LEVEL_INFO, 2};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(log_level_t level)
{
    atomic_store(&logger.level, (int)level);
}

int log_parse_level(const char *s, log_level_t *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    }
    return -1;
}

int log_enabled(log_level_t level)
{
    return (int)level >= atomic_load(&logger.level);
}

void log_set_fd(int fd)
{
    atomic_store(&logger.fd, fd < 0 ? 2 : fd);
}

typedef struct {
    char buf[4096];
    size_t n;
} line_t;

static void put(line_t *l, const char *s, size_t n)
{
    size_t room = sizeof(l->buf) - 1 - l->n; /* keep one byte for the newline */
    if (n > room) {
        n = room;
    }
    memcpy(l->buf + l->n, s, n);
    l->n += n;
}

static void puts_(line_t *l, const char *s)
{
    put(l, s, strlen(s));
}

static int needs_quotes(const char *s)
{
    if (*s == '\0') {
        return 1;
    }
    for (; *s; s++) {
        if (*s <= ' ' || *s == '"' || *s == '=' || *s == '\\' || (unsigned char)*s == 0x7f) {
            return 1;
        }
    }
    return 0;
}

static void put_value(line_t *l, const char *s)
{
    if (s == NULL) {
        puts_(l, "null");
        return;
    }
    if (!needs_quotes(s)) {
        puts_(l, s);
        return;
    }
    put(l, "\"", 1);
    for (; *s; s++) {
        char esc[8];
        switch (*s) {
        case '"': puts_(l, "\\\""); break;
        case '\\': puts_(l, "\\\\"); break;
        case '\n': puts_(l, "\\n"); break;
        case '\t': puts_(l, "\\t"); break;
        case '\r': puts_(l, "\\r"); break;
        default:
            if ((unsigned char)*s < 0x20) {
                snprintf(esc, sizeof(esc), "\\u%04x", *s);
                puts_(l, esc);
            } else {
                put(l, s, 1);
            }
        }
    }
    put(l, "\"", 1);
}

static void put_ts(line_t *l)
{
    struct timeval tv;
    struct tm tm;
    char ts[40];
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03dZ", (int)(tv.tv_usec / 1000));
    puts_(l, ts);
}

void log_write(log_level_t level, const char *file, int line, const char *msg,
               const log_kv_t *kvs)
{
    line_t l = {.n = 0};
    char num[64];
    puts_(&l, "level=");
    puts_(&l, level_names[level]);
    puts_(&l, " ts=");
    put_ts(&l);
    snprintf(num, sizeof(num), ":%d", line);
    puts_(&l, " caller=");
    puts_(&l, file);
    puts_(&l, num);
    puts_(&l, " msg=");
    put_value(&l, msg);
    for (; kvs != NULL && kvs->type != KV_T_END; kvs++) {
        put(&l, " ", 1);
        puts_(&l, kvs->key);
        put(&l, "=", 1);
        switch (kvs->type) {
        case KV_T_STR: put_value(&l, kvs->s); break;
        case KV_T_INT:
            snprintf(num, sizeof(num), "%lld", (long long)kvs->i);
            puts_(&l, num);
            break;
        case KV_T_FLOAT:
            snprintf(num, sizeof(num), "%g", kvs->f);
            puts_(&l, num);
            break;
        case KV_T_END: break;
        }
    }
    l.buf[l.n++] = '\n';
    ssize_t rc = write(atomic_load(&logger.fd), l.buf, l.n);
    (void)rc;
}
