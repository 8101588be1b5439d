/* config/config.c - building configuration snapshots: defaults, then the file, then flags;
 * validation of what the table cannot express; refcounting and the snapshot slot. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/mem.h"
#include "config/config_int.h"

const char *cfg_program_name(cfg_program_t prog)
{
    static const char *const names[] = {
        [CFG_PROMD] = "herald-promd",
        [CFG_LOGD] = "herald-logd",
        [CFG_ALERTD] = "herald-alertd",
        [CFG_RULESYNC] = "herald-rulesync",
    };
    return (unsigned)prog <= CFG_RULESYNC ? names[prog] : "herald";
}

cfg_t *cfg__new(cfg_program_t prog)
{
    cfg_t *c = xcalloc(1, sizeof(*c));
    c->program = prog;
    c->file = xstrdup("");
    c->internal = xcalloc(1, sizeof(*c->internal));
    c->internal->refs = 1;
    cfg__init_struct(&cfg__root, cfg__program_mask(prog), c);
    return c;
}

static void cfg_free(cfg_t *c)
{
    cfg__fini_struct(&cfg__root, c);
    for (int i = 0; i < c->internal->argc; i++) {
        free(c->internal->argv[i]);
    }
    free(c->internal->argv);
    free(c->internal);
    free(c->file);
    free(c);
}

cfg_t *cfg_ref(cfg_t *c)
{
    __atomic_fetch_add(&c->internal->refs, 1, __ATOMIC_RELAXED);
    return c;
}

void cfg_unref(cfg_t *c)
{
    if (c != NULL && __atomic_sub_fetch(&c->internal->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        cfg_free(c);
    }
}

/* ---- validation -------------------------------------------------------------------- */

static int check_matcher(const cfg_query_matcher_t *m, const char *where, int is_loki, err_t *err)
{
    if (m->name[0] == '\0') {
        return err_set(err, ERR_BAD_DATA, "%s: \"name\" is required", where);
    }
    int has_value = m->value[0] != '\0', has_label = m->value_from_label[0] != '\0';
    if (is_loki && has_label) {
        return err_set(err, ERR_BAD_DATA,
                       "%s: \"value_from_label\" is not supported by "
                       "loki_rules",
                       where);
    }
    if (has_value == has_label && !is_loki) {
        return err_set(err, ERR_BAD_DATA,
                       "%s: exactly one of \"value\" and \"value_from_label\" must be set", where);
    }
    return 0;
}

static int check_selector(const cfg_label_selector_t *s, const char *where, err_t *err)
{
    for (size_t i = 0; i < s->n_match_expression; i++) {
        const cfg_match_expr_t *e = &s->match_expression[i];
        int wants_values = strcmp(e->operator, "In") == 0 || strcmp(e->operator, "NotIn") == 0;
        if (e->key[0] == '\0' || e->operator[0] == '\0') {
            return err_set(err, ERR_BAD_DATA,
                           "%s.match_expression[%zu]: \"key\" and \"operator\" are required", where,
                           i);
        }
        if (wants_values != (e->values.n > 0)) {
            return err_set(err, ERR_BAD_DATA, "%s.match_expression[%zu]: operator %s %s values",
                           where, i, e->operator, wants_values ? "needs" : "takes no");
        }
    }
    return 0;
}

static int check_target(const cfg_rules_target_t *t, const char *list, size_t idx, err_t *err)
{
    int is_loki = strcmp(list, "loki_rules") == 0;
    char where[96];
    snprintf(where, sizeof(where), "%s[%zu]", list, idx);
    if (t->address[0] == '\0') {
        return err_set(err, ERR_BAD_DATA, "%s: \"address\" is required", where);
    }
    if (t->namespace_prefix[0] == '\0') {
        return err_set(err, ERR_BAD_DATA, "%s: the namespace prefix must not be empty", where);
    }
    for (size_t i = 0; i < t->n_extra_query_matchers; i++) {
        char mw[160];
        snprintf(mw, sizeof(mw), "%s.extra_query_matchers.matcher[%zu]", where, i);
        if (check_matcher(&t->extra_query_matchers[i], mw, is_loki, err) != 0) {
            return -1;
        }
    }
    char sw[160];
    snprintf(sw, sizeof(sw), "%s.rule_selector", where);
    if (check_selector(&t->rule_selector, sw, err) != 0) {
        return -1;
    }
    snprintf(sw, sizeof(sw), "%s.rule_namespace_selector", where);
    return check_selector(&t->rule_namespace_selector, sw, err);
}

/* Prometheus's checks of a remote_write entry, named by the client. */
static int check_rw_client(const cfg_rw_client_t *cl, err_t *err)
{
    if (cl->url[0] == '\0') {
        return err_set(err, ERR_BAD_DATA,
                       "ruler.remote_write.clients.%s: url for remote_write is empty", cl->name);
    }
    if (cl->bearer_token[0] != '\0' &&
        (cl->basic_auth_username[0] != '\0' || cl->basic_auth_password[0] != '\0')) {
        return err_set(err, ERR_BAD_DATA,
                       "ruler.remote_write.clients.%s: at most one of basic_auth and "
                       "bearer_token must be configured",
                       cl->name);
    }
    return 0;
}

static int validate(const cfg_t *c, err_t *err)
{
    if (c->server.http_listen_port < 0 || c->server.http_listen_port > 65535) {
        return err_set(err, ERR_BAD_DATA, "server.http_listen_port: %d is not a port",
                       c->server.http_listen_port);
    }
    if (c->server.http_server_threads < 1) {
        return err_set(err, ERR_BAD_DATA, "server.http_server_threads must be at least 1");
    }
    for (size_t i = 0; i < c->rulesync.n_mimir_rules; i++) {
        if (check_target(&c->rulesync.mimir_rules[i], "mimir_rules", i, err) != 0) {
            return -1;
        }
    }
    for (size_t i = 0; i < c->rulesync.n_loki_rules; i++) {
        if (check_target(&c->rulesync.loki_rules[i], "loki_rules", i, err) != 0) {
            return -1;
        }
    }
    for (size_t i = 0; i < c->ruler.n_remote_write_clients; i++) {
        if (check_rw_client(&c->ruler.remote_write_clients[i], err) != 0) {
            return -1;
        }
    }
    if (c->program == CFG_LOGD && c->ruler.remote_write_enabled &&
        c->ruler.n_remote_write_clients == 0) {
        return err_set(err, ERR_BAD_DATA, "remote-write enabled but no clients URL are configured");
    }
    return 0;
}

static int validate_in(const cfg_t *c, err_t *err)
{
    if (validate(c, err) != 0) {
        return c->file[0] != '\0' ? err_wrap(err, "%s", c->file) : -1;
    }
    return 0;
}

/* ---- derived defaults -------------------------------------------------------------------- */

#define LOKI_DEFAULT_PREFIX "./data/loki"

/* herald-logd keeps its other directories under common.path_prefix: when the prefix moved
 * and such a directory still has its default, it moves along (as Loki derives rule_path and
 * the ruler WAL from the prefix). A dumped config holds the derived paths, so reloading the
 * dump changes nothing. */
static void derive_logd_paths(cfg_t *c)
{
    char **dirs[] = {&c->ruler.rule_path, &c->ruler.wal_dir, &c->ruler_storage.local_directory};
    size_t plen = strlen(LOKI_DEFAULT_PREFIX);
    if (c->program != CFG_LOGD || strcmp(c->common.path_prefix, LOKI_DEFAULT_PREFIX) == 0 ||
        c->common.path_prefix[0] == '\0') {
        return;
    }
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        char *d = *dirs[i];
        if (strncmp(d, LOKI_DEFAULT_PREFIX "/", plen + 1) == 0) {
            buf_t b;
            buf_init(&b);
            buf_printf(&b, "%s%s", c->common.path_prefix, d + plen);
            free(d);
            *dirs[i] = buf_steal(&b, NULL);
        }
    }
}

/* ---- loading --------------------------------------------------------------------------- */

cfg_t *cfg_parse(cfg_program_t prog, const char *yaml, size_t len, const char *file_name,
                 err_t *err)
{
    cfg_t *c = cfg__new(prog);
    int rc = cfg__yaml_read(c, yaml, len, file_name, err);
    if (rc == 0) {
        derive_logd_paths(c);
        rc = validate(c, err);
    }
    if (rc != 0) {
        cfg_unref(c);
        return NULL;
    }
    return c;
}

/* Loki takes a comma-separated list and uses the first file that exists. */
static char *pick_file(const char *list)
{
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        char *path = xstrndup(p, comma != NULL ? (size_t)(comma - p) : strlen(p));
        if (comma == NULL || access(path, F_OK) == 0) {
            return path;
        }
        free(path);
        p = comma + 1;
    }
}

static int load_file(cfg_t *c, const char *list, int expand_env, err_t *err)
{
    free(c->file);
    c->file = pick_file(list);
    size_t len;
    char *text = fs_read_file(c->file, &len, err);
    if (text == NULL) {
        return -1;
    }
    if (expand_env) {
        size_t n;
        char *expanded = cfg__expand_env(text, len, &n);
        free(text);
        text = expanded;
        len = n;
    }
    int rc = cfg__yaml_read(c, text, len, c->file, err);
    free(text);
    return rc;
}

static int apply_flags(cfg_t *c, const cfg__flags_t *flags, err_t *err)
{
    unsigned mask = cfg__program_mask(c->program);
    for (size_t i = 0; i < flags->n; i++) {
        const cfg__key_t *k = cfg__find_flag(mask, flags->items[i].name);
        err_t e = {0};
        if (k != NULL && cfg__set_text(k, c, flags->items[i].value, &e) != 0) {
            return err_set(err, ERR_BAD_DATA, "invalid value \"%s\" for flag -%s: %s",
                           flags->items[i].value, flags->items[i].name, e.msg);
        }
    }
    return 0;
}

static int flag_true(const cfg__flags_t *flags, const char *name, err_t *err)
{
    const char *v = cfg__flags_get(flags, name);
    if (v == NULL) {
        return 0;
    }
    static const cfg__key_t bool_row = {.type = CFG__BOOL};
    int on = 0;
    err_t e = {0};
    if (cfg__set_text(&bool_row, &on, v, &e) != 0) {
        err_set(err, ERR_BAD_DATA, "invalid value \"%s\" for flag -%s: %s", v, name, e.msg);
        return -1;
    }
    return on;
}

static void keep_args(cfg_t *c, int argc, char *const argv[])
{
    c->internal->argc = argc;
    c->internal->argv = xcalloc((size_t)argc + 1, sizeof(char *));
    for (int i = 0; i < argc; i++) {
        c->internal->argv[i] = xstrdup(argv[i]);
    }
}

static int load_into(cfg_t *c, const cfg__flags_t *flags, err_t *err)
{
    int help = flag_true(flags, "help", err), h = flag_true(flags, "h", err);
    int version = flag_true(flags, "version", err);
    int expand = flag_true(flags, "config.expand-env", err);
    if (help < 0 || h < 0 || version < 0 || expand < 0) {
        return -1;
    }
    c->show_help = help || h;
    c->show_version = version;
    if (c->show_help || c->show_version) {
        return 0; /* -help works even next to a broken file */
    }
    const char *file = cfg__flags_get(flags, "config.file");
    if (file != NULL && file[0] != '\0' && load_file(c, file, expand, err) != 0) {
        return -1;
    }
    if (apply_flags(c, flags, err) != 0) {
        return -1;
    }
    derive_logd_paths(c);
    return validate_in(c, err);
}

cfg_t *cfg_load(cfg_program_t prog, int argc, char *const argv[], err_t *err)
{
    cfg__flags_t flags = {0};
    cfg_t *c = cfg__new(prog);
    keep_args(c, argc, argv);
    if (cfg__flags_parse(cfg__program_mask(prog), argc, argv, &flags, err) != 0 ||
        load_into(c, &flags, err) != 0) {
        cfg_unref(c);
        c = NULL;
    }
    cfg__flags_fini(&flags);
    return c;
}

cfg_t *cfg_reload(const cfg_t *cur, err_t *err)
{
    return cfg_load(cur->program, cur->internal->argc, cur->internal->argv, err);
}

void cfg_dump_yaml(const cfg_t *c, buf_t *out)
{
    cfg__yaml_dump(c, out);
}

/* ---- the slot ---------------------------------------------------------------------------- */

void cfg_slot_init(cfg_slot_t *s, cfg_t *c)
{
    pthread_mutex_init(&s->mu, NULL);
    s->cur = c;
}

cfg_t *cfg_slot_get(cfg_slot_t *s)
{
    pthread_mutex_lock(&s->mu);
    cfg_t *c = cfg_ref(s->cur);
    pthread_mutex_unlock(&s->mu);
    return c;
}

void cfg_slot_set(cfg_slot_t *s, cfg_t *c)
{
    pthread_mutex_lock(&s->mu);
    cfg_t *old = s->cur;
    s->cur = c;
    pthread_mutex_unlock(&s->mu);
    cfg_unref(old); /* outside the lock: freeing may take a while */
}

void cfg_slot_fini(cfg_slot_t *s)
{
    cfg_unref(s->cur);
    s->cur = NULL;
    pthread_mutex_destroy(&s->mu);
}
