/* config/config_int.h - internals shared by the files of config/: the key table and the
 * typed value codecs. Only files in config/ include this header.
 *
 * DESIGN: every configurable value is one row of a static table (cfg__root, and the tables of
 * list elements). A row names its YAML path relative to the struct it lives in, its flag,
 * type, default (as text, decoded by the same codec as YAML and flags), the programs that
 * accept it, and its offset. Parsing, flags, defaults, -help, the YAML dump and the docs all
 * walk these rows, so a key is declared exactly once per program. A field may be reached by
 * several rows (one per program, when names or defaults differ: Mimir multitenancy_enabled
 * and Loki auth_enabled share cfg_t.multitenancy_enabled). */
#ifndef HERALD_CONFIG_CONFIG_INT_H
#define HERALD_CONFIG_CONFIG_INT_H
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "config/config.h"

typedef enum {
    CFG__BOOL,
    CFG__INT,      /* int */
    CFG__INT64,    /* int64_t */
    CFG__FLOAT,    /* double */
    CFG__STRING,   /* char *, owned */
    CFG__DURATION, /* int64_t ms: Prometheus (1d) or Go (1.5h) syntax */
    CFG__SIZE,     /* int64_t bytes: 256KB, 3MB (base 2), or a plain number */
    CFG__STRLIST,  /* cfg_strlist_t: YAML sequence, flag comma-separated */
    CFG__DURLIST,  /* cfg_durlist_t: YAML sequence, flag comma-separated */
    CFG__STRMAP,   /* cfg_strmap_t: YAML mapping of scalars, no flag */
    CFG__LIST,     /* array of structs described by `sub`; count at count_offset; in YAML a
                    * sequence, or a mapping by name when `sub` has an is_map_key row */
    CFG__IGNORED,  /* accepted and ignored (documented), any YAML value */
} cfg__type_t;

/* Program masks. Rows of list-element tables use the MIMIR_RULES / LOKI_RULES bits. */
#define CFG__P_PROMD (1u << CFG_PROMD)
#define CFG__P_LOGD (1u << CFG_LOGD)
#define CFG__P_ALERTD (1u << CFG_ALERTD)
#define CFG__P_RULESYNC (1u << CFG_RULESYNC)
#define CFG__P_MIMIR_RULES (1u << 4)
#define CFG__P_LOKI_RULES (1u << 5)
#define CFG__P_MIMIR (CFG__P_PROMD | CFG__P_ALERTD)
#define CFG__P_RULES (CFG__P_MIMIR_RULES | CFG__P_LOKI_RULES)
#define CFG__P_ALL (CFG__P_PROMD | CFG__P_LOGD | CFG__P_ALERTD | CFG__P_RULESYNC)

typedef struct cfg__table cfg__table_t;

typedef struct {
    const char *path; /* YAML path, dot-separated, relative to the table's struct */
    const char *flag; /* flag name without the dash; NULL: no flag */
    cfg__type_t type;
    size_t offset;           /* of the value in the table's struct */
    size_t count_offset;     /* CFG__LIST: of the size_t element count */
    const char *def;         /* default as text; NULL: zero / empty */
    const char *choices;     /* "a|b|c": the allowed values of a string; NULL: any */
    unsigned programs;       /* CFG__P_* mask of the programs that accept this row */
    const cfg__table_t *sub; /* CFG__LIST: table of one element */
    unsigned sub_programs;   /* CFG__LIST: mask used inside the elements */
    int is_secret;           /* dumped as ******** (GET /config must not leak it) */
    /* In a list element's table: the element's name, which YAML gives as a map key (Loki's
     * `clients: {<name>: {url: ...}}`); a list whose table has such a row is a YAML mapping
     * instead of a sequence. The row is no YAML key inside the element. */
    int is_map_key;
    const char *help;
} cfg__key_t;

struct cfg__table {
    const cfg__key_t *keys;
    size_t n_keys;
    size_t elem_size; /* struct size of one element (list tables) */
};

struct cfg_internal {
    int refs; /* atomic */
    int argc;
    char **argv; /* copies, for cfg_reload */
};

extern const cfg__table_t cfg__root; /* rows into cfg_t */

/* config_keys.c */
unsigned cfg__program_mask(cfg_program_t prog);

/* config_value.c: typed values at base + row->offset. */
const char *cfg__type_name(cfg__type_t type);
/* Decodes scalar text (a default, a flag or a YAML scalar) into the row's field. Lists take
 * comma-separated text. Error: `cannot unmarshal "x" into int`-style, without key. */
int cfg__set_text(const cfg__key_t *k, void *base, const char *text, err_t *err);
/* Applies the defaults of every row of `mask` in table t to base, then makes every string
 * field that no row of `mask` set an empty string. */
void cfg__init_struct(const cfg__table_t *t, unsigned mask, void *base);
/* Frees every value a row of t (any program) owns in base. */
void cfg__fini_struct(const cfg__table_t *t, void *base);
/* Frees the value of one row and leaves the field empty (NULL string, no items). */
void cfg__fini_value(const cfg__key_t *k, void *base);
/* Replaces the value of row k in dst with a deep copy of its value in src. */
void cfg__copy_value(const cfg__key_t *k, void *dst, const void *src);
/* Replaces a string or duration list row's value with `items`. */
int cfg__set_list(const cfg__key_t *k, void *base, const cfg_strlist_t *items, err_t *err);
void cfg__strlist_clear(cfg_strlist_t *l);
/* Text form of a scalar row's value (bool, numbers, durations, sizes, strings). */
void cfg__format_scalar(const cfg__key_t *k, const void *base, buf_t *out);
/* Prometheus duration text (1m, 15d), Go's for negative values. */
void cfg__format_duration(int64_t ms, char *out, size_t n);
void cfg__strlist_push(cfg_strlist_t *l, const char *s);
void cfg__strmap_put(cfg_strmap_t *m, const char *key, const char *value);
/* Appends one zeroed element to a list row's array; returns it. */
void *cfg__list_push(const cfg__key_t *k, void *base);
/* The is_map_key row of a list element table, or NULL when the list is a YAML sequence. */
const cfg__key_t *cfg__map_key(const cfg__table_t *t);

/* config_yaml.c */
/* Reads YAML text yaml/len into c (defaults already applied); file_name is used in
 * messages. */
int cfg__yaml_read(cfg_t *c, const char *yaml, size_t len, const char *file_name, err_t *err);
void cfg__yaml_dump(const cfg_t *c, buf_t *out);
/* Reads a runtime configuration (`overrides: {<tenant>: {<limit>: value}}`) for program
 * prog from yaml/len (file_name for messages). For each tenant, new_tenant(arg, id) returns
 * the snapshot to fill (holding the default limits), or NULL with err set. Limit keys are
 * those under limits: (Mimir) or limits_config: (Loki). */
int cfg__yaml_read_overrides(cfg_program_t prog, const char *yaml, size_t len,
                             const char *file_name, cfg_t *(*new_tenant)(void *, const char *),
                             void *arg, err_t *err);

/* config.c */
cfg_t *cfg__new(cfg_program_t prog); /* defaults only, one reference */

/* config_flags.c */
typedef struct {
    struct {
        char *name; /* without dashes */
        char *value;
    } * items;
    size_t n;
} cfg__flags_t;

/* Splits argv[1..argc-1] into name/value pairs appended to `out` (OUT; free with
 * cfg__flags_fini), checking every name against the flags of `mask` and the special flags
 * (config.file, config.expand-env, help, h, version). */
int cfg__flags_parse(unsigned mask, int argc, char *const argv[], cfg__flags_t *out, err_t *err);
const char *cfg__flags_get(const cfg__flags_t *f, const char *name); /* last value or NULL */
void cfg__flags_fini(cfg__flags_t *f);
const cfg__key_t *cfg__find_flag(unsigned mask, const char *name);
/* Substitutes ${VAR}, ${VAR:default}, ${VAR:-default} and $VAR. Caller frees the result. */
char *cfg__expand_env(const char *text, size_t len, size_t *out_len);

#endif
