/* alertmanager/am_usercfg.c - Mimir's per-tenant config document ({alertmanager_config,
 * template_files}): validation as Mimir's config API does it (the Alertmanager config, the
 * template files, Mimir's ban on *_file settings and proxies), loading the notification
 * templates, and rendering the stored document for GET. */
#include <fnmatch.h>
#include <glob.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertmanager/am_int.h"
#include "common/mem.h"

/* Mimir forbids settings that read local files or reach through proxies. */
static int check_forbidden(const am_ynode_t *n, err_t *err)
{
    if (n == NULL) {
        return 0;
    }
    for (size_t i = 0; i < n->n && (n->kind == AM_Y_MAP || n->kind == AM_Y_SEQ); i++) {
        if (n->kind == AM_Y_MAP) {
            const char *k = n->keys[i];
            size_t len = strlen(k);
            if ((len > 5 && strcmp(k + len - 5, "_file") == 0) || strcmp(k, "proxy_url") == 0 ||
                strcmp(k, "proxy_from_environment") == 0) {
                return err_set(err, ERR_BAD_DATA, "setting %s is not allowed", k);
            }
        }
        if (check_forbidden(n->vals[i], err) < 0) {
            return -1;
        }
    }
    return 0;
}

static int template_matches(const am_config_t *c, const char *name)
{
    for (size_t i = 0; i < c->n_templates; i++) {
        const char *pat = strrchr(c->templates[i], '/');
        pat = pat != NULL ? pat + 1 : c->templates[i];
        if (fnmatch(pat, name, 0) == 0) {
            return 1;
        }
    }
    return 0;
}

static int load_file_templates(am_config_t *c, const am_ynode_t *files, err_t *err)
{
    for (size_t i = 0; files != NULL && files->kind == AM_Y_MAP && i < files->n; i++) {
        const char *name = files->keys[i];
        const char *text = files->vals[i]->str != NULL ? files->vals[i]->str : "";
        if (strchr(name, '/') != NULL || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
            name[0] == '\0') {
            return err_set(err, ERR_BAD_DATA,
                           "invalid template name \"%s\": the template name cannot contain any "
                           "path",
                           name);
        }
        if (tmpl_parse(c->tmpl, name, text, err) < 0) {
            return -1;
        }
    }
    return 0;
}

static int load_dir_templates(am_config_t *c, const char *dir, err_t *err)
{
    for (size_t i = 0; dir != NULL && i < c->n_templates; i++) {
        char pat[4096];
        glob_t g;
        const char *p = c->templates[i];
        snprintf(pat, sizeof(pat), "%s%s%s", p[0] == '/' ? "" : dir, p[0] == '/' ? "" : "/", p);
        if (glob(pat, 0, NULL, &g) != 0) {
            continue;
        }
        for (size_t j = 0; j < g.gl_pathc; j++) {
            char *text = NULL;
            size_t len = 0;
            FILE *f = fopen(g.gl_pathv[j], "rb");
            if (f != NULL && getdelim(&text, &len, '\0', f) >= 0) {
                const char *base = strrchr(g.gl_pathv[j], '/');
                if (tmpl_parse(c->tmpl, base != NULL ? base + 1 : g.gl_pathv[j], text, err) < 0) {
                    free(text);
                    fclose(f);
                    globfree(&g);
                    return -1;
                }
            }
            free(text);
            if (f != NULL) {
                fclose(f);
            }
        }
        globfree(&g);
    }
    return 0;
}

int am__config_templates(am_config_t *c, const am_ynode_t *files, const char *dir, err_t *err)
{
    c->tmpl = tmpl_new("", TMPL_FUNCS_ALERTMANAGER);
    if (tmpl_add_am_defaults(c->tmpl, err) < 0) {
        return -1;
    }
    if (files != NULL) {
        /* Mimir writes every template file next to the config; `templates:` selects. */
        am_ynode_t sel = *files;
        const char **keys = xcalloc(files->n + 1, sizeof(*keys));
        am_ynode_t **vals = xcalloc(files->n + 1, sizeof(*vals));
        sel.n = 0;
        for (size_t i = 0; files->kind == AM_Y_MAP && i < files->n; i++) {
            if (strchr(files->keys[i], '/') != NULL || template_matches(c, files->keys[i])) {
                keys[sel.n] = files->keys[i];
                vals[sel.n++] = files->vals[i];
            }
        }
        sel.keys = keys;
        sel.vals = vals;
        int rc = load_file_templates(c, &sel, err);
        free(keys);
        free(vals);
        return rc;
    }
    return load_dir_templates(c, dir, err);
}

am_config_t *am__user_config_parse(am_t *am, const char *text, size_t len, err_t *err)
{
    err_t e = {0};
    arena_t *a = arena_new(0, NULL);
    am_config_t *c = NULL;
    const am_ynode_t *root = am__yaml_parse(a, text, len, &e);
    if (root == NULL) {
        err_set(err, ERR_BAD_DATA, "error marshalling YAML Alertmanager config: %s", e.msg);
        goto done;
    }
    const am_ynode_t *cfg = am__ymap_get(root, "alertmanager_config");
    const am_ynode_t *files = am__ymap_get(root, "template_files");
    if (cfg == NULL || cfg->str == NULL || cfg->str[0] == '\0') {
        err_set(err, ERR_PRECONDITION,
                "configuration provided is empty, if you'd like to remove your configuration "
                "please use the delete configuration endpoint");
        goto done;
    }
    if (am->opts.max_config_bytes > 0 && len > am->opts.max_config_bytes) {
        err_set(err, ERR_BAD_DATA, "Alertmanager configuration is too big, limit: %zu bytes",
                am->opts.max_config_bytes);
        goto done;
    }
    static const am_ynode_t no_files = {.kind = AM_Y_MAP};
    c = am__config_parse(cfg->str, strlen(cfg->str), &e);
    const am_ynode_t *inner = c != NULL ? am__yaml_parse(a, cfg->str, strlen(cfg->str), &e) : NULL;
    if (c == NULL || check_forbidden(inner, &e) < 0 ||
        am__config_templates(c, files != NULL ? files : &no_files, NULL, &e) < 0) {
        err_set(err, ERR_BAD_DATA, "%s", e.msg);
        am__config_unref(c);
        c = NULL;
    }
done:
    arena_free(a);
    return c;
}

static void yaml_render(const am_ynode_t *cfg, const am_ynode_t *files, buf_t *out)
{
    buf_puts(out, "template_files:");
    if (files == NULL || files->kind != AM_Y_MAP || files->n == 0) {
        buf_puts(out, " {}\n");
    } else {
        buf_putc(out, '\n');
        for (size_t i = 0; i < files->n; i++) {
            buf_printf(out, "    %s: ", files->keys[i]);
            am__yaml_put_str(out, files->vals[i]->str != NULL ? files->vals[i]->str : "", 8, 4);
        }
    }
    buf_puts(out, "alertmanager_config: ");
    am__yaml_put_str(out, cfg != NULL && cfg->str != NULL ? cfg->str : "", 4, 4);
}

static void json_render(const am_ynode_t *cfg, const am_ynode_t *files, buf_t *out)
{
    json_t *tf = json_object();
    for (size_t i = 0; files != NULL && files->kind == AM_Y_MAP && i < files->n; i++) {
        json_object_set_new(tf, files->keys[i],
                            json_string(files->vals[i]->str != NULL ? files->vals[i]->str : ""));
    }
    json_t *o = json_pack("{s:o,s:s}", "template_files", tf, "alertmanager_config",
                          cfg != NULL && cfg->str != NULL ? cfg->str : "");
    char *s = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT);
    buf_puts(out, s);
    free(s);
    json_decref(o);
}

int am__user_config_render(const char *text, int as_yaml, buf_t *out, err_t *err)
{
    arena_t *a = arena_new(0, NULL);
    const am_ynode_t *root = am__yaml_parse(a, text, strlen(text), err);
    if (root == NULL) {
        arena_free(a);
        return -1;
    }
    const am_ynode_t *cfg = am__ymap_get(root, "alertmanager_config");
    const am_ynode_t *files = am__ymap_get(root, "template_files");
    if (as_yaml) {
        yaml_render(cfg, files, out);
    } else {
        json_render(cfg, files, out);
    }
    arena_free(a);
    return 0;
}
