/* alertmanager/am_tz.c - time zones for time intervals' `location`: the system's TZif files
 * (/usr/share/zoneinfo, as Go's time.LoadLocation reads them) loaded once per config into a
 * table of UTC transition instants and offsets. Debian ships "fat" TZif files, whose
 * explicit transitions reach 2037; later instants keep the last offset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertmanager/am_int.h"

static int64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    if (n == 4) {
        return (int32_t)(uint32_t)v;
    }
    return (int64_t)v;
}

static int valid_name(const char *name)
{
    if (name[0] == '\0' || name[0] == '/' || strstr(name, "..") != NULL) {
        return 0;
    }
    for (const char *p = name; *p != '\0'; p++) {
        if (!(*p >= 'A' && *p <= 'Z') && !(*p >= 'a' && *p <= 'z') &&
            !(*p >= '0' && *p <= '9') && strchr("/_+-", *p) == NULL) {
            return 0;
        }
    }
    return 1;
}

typedef struct {
    int64_t isut, isstd, leap, time, type, chars;
} counts_t;

static int read_counts(const unsigned char *p, size_t len, counts_t *c)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0) {
        return -1;
    }
    c->isut = be(p + 20, 4);
    c->isstd = be(p + 24, 4);
    c->leap = be(p + 28, 4);
    c->time = be(p + 32, 4);
    c->type = be(p + 36, 4);
    c->chars = be(p + 40, 4);
    return c->time < 0 || c->type <= 0 || c->type > 256 ? -1 : 0;
}

static size_t block_size(const counts_t *c, int tsize)
{
    return (size_t)(c->time * tsize + c->time + c->type * 6 + c->chars +
                    c->leap * (tsize + 4) + c->isstd + c->isut);
}

/* Fills tz from one data block (v1: 4-byte times, v2+: 8-byte). */
static int read_block(arena_t *a, const unsigned char *p, size_t len, const counts_t *c,
                      int tsize, am_tz_t *tz)
{
    if (block_size(c, tsize) > len) {
        return -1;
    }
    const unsigned char *idx = p + c->time * tsize, *types = idx + c->time;
    tz->times = arena_calloc(a, (size_t)(c->time + 1) * sizeof(int64_t));
    tz->offs = arena_calloc(a, (size_t)(c->time + 1) * sizeof(int32_t));
    if (tz->times == NULL || tz->offs == NULL) {
        return -1;
    }
    for (int64_t i = 0; i < c->time; i++) {
        if (idx[i] >= c->type) {
            return -1;
        }
        tz->times[i] = be(p + i * tsize, tsize);
        tz->offs[i] = (int32_t)be(types + idx[i] * 6, 4);
    }
    tz->n = (size_t)c->time;
    tz->first_off = (int32_t)be(types, 4); /* before the first transition: the first type */
    return 0;
}

int am__tz_load(arena_t *a, const char *name, am_tz_t *tz, err_t *err)
{
    char path[512];
    unsigned char *data = NULL;
    size_t len = 0;
    counts_t c;
    memset(tz, 0, sizeof(*tz));
    if (strcmp(name, "UTC") == 0 || strcmp(name, "") == 0) {
        return 0;
    }
    snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", name);
    FILE *f = valid_name(name) ? fopen(path, "rb") : NULL;
    if (f != NULL) {
        data = malloc(1 << 20);
        len = fread(data, 1, 1 << 20, f);
        fclose(f);
    }
    int rc = data != NULL && read_counts(data, len, &c) == 0 ? 0 : -1;
    if (rc == 0 && data[4] >= '2') { /* skip the v1 block to the 64-bit one */
        size_t off = 44 + block_size(&c, 4);
        rc = off < len && read_counts(data + off, len - off, &c) == 0
                 ? read_block(a, data + off + 44, len - off - 44, &c, 8, tz)
                 : -1;
    } else if (rc == 0) {
        rc = read_block(a, data + 44, len - 44, &c, 4, tz);
    }
    free(data);
    if (rc < 0) {
        return err_set(err, ERR_BAD_DATA, "unknown time zone %s", name);
    }
    return 0;
}

int32_t am__tz_offset(const am_tz_t *tz, int64_t unix_s)
{
    if (tz->n == 0 || unix_s < tz->times[0]) {
        return tz->first_off;
    }
    size_t lo = 0, hi = tz->n; /* last transition <= unix_s */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (tz->times[mid] <= unix_s) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return tz->offs[lo];
}
