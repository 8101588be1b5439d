/* config/config_overrides.c - per-tenant limits from the runtime configuration file.
 *
 * DESIGN: each tenant with overrides gets its own cfg_t whose limits start as a deep copy of
 * the base snapshot's and are then overwritten by the tenant's keys, so the same key table,
 * decoders and error messages serve limits:, limits_config: and overrides:. The map is built
 * once and never changed, hence lock-free reads. */
#include <stdlib.h>
#include <string.h>

#include "common/fs.h"
#include "common/hashmap.h"
#include "common/mem.h"
#include "config/config_int.h"

struct cfg_overrides {
    cfg_t *base;        /* one reference: the defaults */
    hashmap_t tenants;  /* tenant id -> cfg_t* (one reference each) */
    err_t *err;         /* while loading */
};

/* The rows of the program's limits section. */
static int is_limit_row(const cfg__key_t *k, cfg_program_t prog)
{
    const char *prefix = prog == CFG_LOGD ? "limits_config." : "limits.";
    return (k->programs & cfg__program_mask(prog)) != 0 &&
           strncmp(k->path, prefix, strlen(prefix)) == 0;
}

static cfg_t *new_tenant(void *arg, const char *tenant)
{
    cfg_overrides_t *o = arg;
    if (hashmap_get(&o->tenants, tenant) != NULL) {
        err_set(o->err, ERR_BAD_DATA, "overrides: tenant \"%s\" is listed twice", tenant);
        return NULL;
    }
    cfg_t *c = cfg__new(o->base->program);
    for (size_t i = 0; i < cfg__root.n_keys; i++) {
        if (is_limit_row(&cfg__root.keys[i], o->base->program)) {
            cfg__copy_value(&cfg__root.keys[i], c, o->base);
        }
    }
    hashmap_put(&o->tenants, tenant, c);
    return c;
}

static void unref_value(void *v)
{
    cfg_unref(v);
}

void cfg_overrides_free(cfg_overrides_t *o)
{
    if (o == NULL) {
        return;
    }
    hashmap_fini(&o->tenants, unref_value);
    cfg_unref(o->base);
    free(o);
}

cfg_overrides_t *cfg_overrides_parse(cfg_t *c, const char *yaml, size_t len,
                                     const char *file_name, err_t *err)
{
    cfg_overrides_t *o = xcalloc(1, sizeof(*o));
    o->base = cfg_ref(c);
    o->err = err;
    hashmap_init(&o->tenants);
    if (cfg__yaml_read_overrides(c->program, yaml, len, file_name, new_tenant, o, err) != 0) {
        cfg_overrides_free(o);
        return NULL;
    }
    o->err = NULL;
    return o;
}

cfg_overrides_t *cfg_overrides_load(cfg_t *c, err_t *err)
{
    if (c->runtime_config_file[0] == '\0') {
        return cfg_overrides_parse(c, "", 0, "(none)", err);
    }
    size_t len;
    char *text = fs_read_file(c->runtime_config_file, &len, err);
    if (text == NULL) {
        return NULL;
    }
    cfg_overrides_t *o = cfg_overrides_parse(c, text, len, c->runtime_config_file, err);
    free(text);
    return o;
}

const cfg_limits_t *cfg_overrides_get(const cfg_overrides_t *o, const char *tenant)
{
    const cfg_t *t = tenant != NULL ? hashmap_get(&o->tenants, tenant) : NULL;
    return t != NULL ? &t->limits : &o->base->limits;
}

size_t cfg_overrides_count(const cfg_overrides_t *o)
{
    return hashmap_len(&o->tenants);
}
