/* common/fs.c - see fs.h. */
#include "common/fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/mem.h"

int fs_mkdir_p(const char *path, err_t *err)
{
    char *tmp = xstrdup(path);
    int rc = 0;
    /* parents first; a failure there shows up as the final mkdir's error */
    for (char *p = tmp + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST) {
        rc = err_set(err, ERR_INTERNAL, "mkdir %s: %s", path, strerror(errno));
    }
    free(tmp);
    return rc;
}

char *fs_read_file(const char *path, size_t *len, err_t *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        err_set(err, errno == ENOENT ? ERR_NOT_FOUND : ERR_INTERNAL, "open %s: %s", path,
                strerror(errno));
        return NULL;
    }
    buf_t b;
    buf_init(&b);
    buf_append(&b, "", 0); /* an empty file still reads as "" */
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        buf_append(&b, chunk, n);
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        buf_fini(&b);
        err_set(err, ERR_INTERNAL, "read %s: I/O error", path);
        return NULL;
    }
    return buf_steal(&b, len);
}
