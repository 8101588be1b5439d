/* common/fs.h - the few file-system helpers the stores and loaders share: creating a
 * directory with its parents and reading a whole file. Errors name the path and the system's
 * reason (`open ./x.yaml: No such file or directory`). No state: thread-safe. */
#ifndef HERALD_COMMON_FS_H
#define HERALD_COMMON_FS_H
#include <stddef.h>

#include "common/err.h"

/* mkdir -p with mode 0755; an existing directory is fine. -1 + ERR_INTERNAL otherwise. */
int fs_mkdir_p(const char *path, err_t *err);
/* The whole file as a NUL-terminated heap buffer (free it); *len, if not NULL, gets its size
 * without the NUL. NULL + err: ERR_NOT_FOUND if the file does not exist, else ERR_INTERNAL. */
char *fs_read_file(const char *path, size_t *len, err_t *err);

#endif
