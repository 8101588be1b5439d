/* config/config_flags.c - command-line flags (Go `flag` package syntax: -name=value,
 * -name value, --name, bare boolean flags), environment expansion of config files, -help
 * text and the generated Markdown reference. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "config/config_int.h"

/* Flags every program has besides its table rows. */
static const struct {
    const char *name;
    int is_bool;
    const char *help;
} special_flags[] = {
    {"config.file", 0,
     "Configuration file to load (Loki style: a comma-separated list, the "
     "first that exists)."},
    {"config.expand-env", 1,
     "Expand ${VAR}, ${VAR:default} and ${VAR:-default} in the "
     "configuration file before parsing it."},
    {"help", 1, "Print this help and exit."},
    {"h", 1, "Print this help and exit."},
    {"version", 1, "Print the version and exit."},
};

const cfg__key_t *cfg__find_flag(unsigned mask, const char *name)
{
    for (size_t i = 0; i < cfg__root.n_keys; i++) {
        const cfg__key_t *k = &cfg__root.keys[i];
        if ((k->programs & mask) != 0 && k->flag != NULL && strcmp(k->flag, name) == 0) {
            return k;
        }
    }
    return NULL;
}

static int special_index(const char *name)
{
    for (size_t i = 0; i < sizeof(special_flags) / sizeof(special_flags[0]); i++) {
        if (strcmp(special_flags[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static void push_flag(cfg__flags_t *f, const char *name, size_t name_len, const char *value)
{
    f->items = xrealloc(f->items, (f->n + 1) * sizeof(f->items[0]));
    f->items[f->n].name = xstrndup(name, name_len);
    f->items[f->n].value = xstrdup(value);
    f->n++;
}

/* One argument at argv[*i] for the flags of `mask`; a value-taking flag without `=` consumes
 * argv[*i + 1] (IN/OUT i). The name/value pair is appended to `out`. */
static int parse_one(unsigned mask, int argc, char *const argv[], int *i, cfg__flags_t *out,
                     err_t *err)
{
    const char *arg = argv[*i];
    const char *name = arg + (arg[1] == '-' ? 2 : 1);
    const char *eq = strchr(name, '=');
    size_t name_len = eq != NULL ? (size_t)(eq - name) : strlen(name);
    char key[256];
    snprintf(key, sizeof(key), "%.*s", (int)name_len, name);
    const cfg__key_t *k = cfg__find_flag(mask, key);
    int sp = special_index(key);
    if (k == NULL && sp < 0) {
        return err_set(err, ERR_BAD_DATA, "flag provided but not defined: -%s", key);
    }
    int is_bool = k != NULL ? k->type == CFG__BOOL : special_flags[sp].is_bool;
    if (eq != NULL) {
        push_flag(out, name, name_len, eq + 1);
    } else if (is_bool) {
        push_flag(out, name, name_len, "true");
    } else if (*i + 1 < argc) {
        push_flag(out, name, name_len, argv[++*i]);
    } else {
        return err_set(err, ERR_BAD_DATA, "flag needs an argument: -%s", key);
    }
    return 0;
}

int cfg__flags_parse(unsigned mask, int argc, char *const argv[], cfg__flags_t *out, err_t *err)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0) {
            if (i + 1 < argc) {
                return err_set(err, ERR_BAD_DATA, "unexpected argument: %s", argv[i + 1]);
            }
            break;
        }
        if (arg[0] != '-' || arg[1] == '\0' || (arg[1] == '-' && arg[2] == '\0')) {
            return err_set(err, ERR_BAD_DATA, "unexpected argument: %s", arg);
        }
        if (arg[1] == '=' || (arg[1] == '-' && (arg[2] == '-' || arg[2] == '='))) {
            return err_set(err, ERR_BAD_DATA, "bad flag syntax: %s", arg);
        }
        if (parse_one(mask, argc, argv, &i, out, err) != 0) {
            return -1;
        }
    }
    return 0;
}

const char *cfg__flags_get(const cfg__flags_t *f, const char *name)
{
    const char *v = NULL;
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->items[i].name, name) == 0) {
            v = f->items[i].value; /* the last one wins, as in Go */
        }
    }
    return v;
}

void cfg__flags_fini(cfg__flags_t *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->items[i].name);
        free(f->items[i].value);
    }
    free(f->items);
    f->items = NULL;
    f->n = 0;
}

/* ---- environment expansion ---------------------------------------------------------- */

/* ${NAME}, ${NAME:default} (Mimir), ${NAME:-default} (Loki) at s[0] == '$', s[1] == '{'.
 * Returns the bytes consumed, 0 when unterminated (then the text is kept as is). */
static size_t expand_braced(const char *s, size_t len, buf_t *out)
{
    const char *close = memchr(s + 2, '}', len - 2);
    if (close == NULL) {
        return 0;
    }
    size_t inner_len = (size_t)(close - (s + 2));
    char *inner = xstrndup(s + 2, inner_len);
    char *colon = strchr(inner, ':');
    const char *def = NULL;
    if (colon != NULL) {
        *colon = '\0';
        def = colon[1] == '-' ? colon + 2 : colon + 1;
    }
    const char *v = getenv(inner);
    if ((v == NULL || *v == '\0') && def != NULL) {
        v = def;
    }
    buf_puts(out, v != NULL ? v : "");
    free(inner);
    return inner_len + 3;
}

char *cfg__expand_env(const char *text, size_t len, size_t *out_len)
{
    buf_t out;
    buf_init(&out);
    for (size_t i = 0; i < len;) {
        size_t used = 0;
        if (text[i] == '$' && i + 1 < len && text[i + 1] == '{') {
            used = expand_braced(text + i, len - i, &out);
        } else if (text[i] == '$' && i + 1 < len &&
                   (isalpha((unsigned char)text[i + 1]) || text[i + 1] == '_')) {
            size_t n = 1;
            while (i + n < len && (isalnum((unsigned char)text[i + n]) || text[i + n] == '_')) {
                n++;
            }
            char *name = xstrndup(text + i + 1, n - 1);
            const char *v = getenv(name);
            buf_puts(&out, v != NULL ? v : "");
            free(name);
            used = n;
        }
        if (used == 0) {
            buf_putc(&out, text[i]);
            used = 1;
        }
        i += used;
    }
    buf_putc(&out, '\0'); /* an empty file still yields a string */
    char *s = buf_steal(&out, out_len);
    (*out_len)--;
    return s;
}

/* ---- -help ---------------------------------------------------------------------------- */

typedef struct {
    const char *name, *type, *help;
    const cfg__key_t *k; /* NULL for special flags */
} help_row_t;

static int cmp_help(const void *a, const void *b)
{
    return strcmp(((const help_row_t *)a)->name, ((const help_row_t *)b)->name);
}

static const char *flag_type(const cfg__key_t *k)
{
    switch (k->type) {
    case CFG__BOOL:
        return "";
    case CFG__INT:
    case CFG__INT64:
        return " int";
    case CFG__FLOAT:
        return " float";
    case CFG__STRING:
        return " string";
    case CFG__DURATION:
        return " duration";
    case CFG__STRLIST:
        return " comma-separated-list-of-strings";
    default:
        return " value";
    }
}

/* Go prints a default unless it is the zero value. */
static void write_default(const cfg__key_t *k, buf_t *out)
{
    if (k->def == NULL || strcmp(k->def, "false") == 0 || strcmp(k->def, "0") == 0 ||
        strcmp(k->def, "0s") == 0) {
        return;
    }
    buf_printf(out, k->type == CFG__STRING ? " (default \"%s\")" : " (default %s)", k->def);
}

void cfg_write_help(cfg_program_t prog, buf_t *out)
{
    unsigned mask = cfg__program_mask(prog);
    size_t n_special = sizeof(special_flags) / sizeof(special_flags[0]);
    help_row_t *rows = xcalloc(cfg__root.n_keys + n_special, sizeof(help_row_t));
    size_t n = 0;
    for (size_t i = 0; i < cfg__root.n_keys; i++) {
        const cfg__key_t *k = &cfg__root.keys[i];
        if ((k->programs & mask) != 0 && k->flag != NULL) {
            rows[n++] = (help_row_t){k->flag, flag_type(k), k->help, k};
        }
    }
    for (size_t i = 0; i < n_special; i++) {
        rows[n++] = (help_row_t){special_flags[i].name, special_flags[i].is_bool ? "" : " string",
                                 special_flags[i].help, NULL};
    }
    qsort(rows, n, sizeof(rows[0]), cmp_help);
    buf_printf(out, "Usage of %s:\n", cfg_program_name(prog));
    for (size_t i = 0; i < n; i++) {
        buf_printf(out, "  -%s%s\n    \t%s", rows[i].name, rows[i].type, rows[i].help);
        if (rows[i].k != NULL) {
            write_default(rows[i].k, out);
        }
        buf_putc(out, '\n');
    }
    free(rows);
}

/* ---- docs/configuration.md ---------------------------------------------------------- */

static void md_cell(buf_t *out, const char *s)
{
    buf_puts(out, " ");
    for (; s != NULL && *s != '\0'; s++) {
        if (*s == '|') {
            buf_puts(out, "\\|");
        } else {
            buf_putc(out, *s);
        }
    }
    buf_puts(out, " |");
}

static void md_code_cell(buf_t *out, const char *s, const char *prefix)
{
    if (s == NULL) {
        md_cell(out, "");
        return;
    }
    buf_t b;
    buf_init(&b);
    buf_printf(&b, "`%s%s`", prefix, s);
    md_cell(out, b.data);
    buf_fini(&b);
}

static void docs_rows(buf_t *out, const cfg__table_t *t, unsigned mask, const char *prefix)
{
    for (size_t i = 0; i < t->n_keys; i++) {
        const cfg__key_t *k = &t->keys[i];
        if ((k->programs & mask) == 0 || k->type == CFG__IGNORED || k->is_map_key) {
            continue;
        }
        int is_map = k->type == CFG__LIST && cfg__map_key(k->sub) != NULL;
        buf_printf(out, "| `%s%s` |", prefix, k->path);
        md_code_cell(out, k->flag, "-");
        md_cell(out, k->choices != NULL ? k->choices
                     : is_map           ? "map of sections"
                                        : cfg__type_name(k->type));
        if (k->def == NULL && k->type == CFG__STRING) {
            md_cell(out, "`\"\"`");
        } else {
            md_code_cell(out, k->def, "");
        }
        md_cell(out, k->help);
        buf_putc(out, '\n');
        if (k->type == CFG__LIST) {
            char sub[256];
            snprintf(sub, sizeof(sub), is_map ? "%s%s.<name>." : "%s%s[].", prefix, k->path);
            docs_rows(out, k->sub, k->sub_programs != 0 ? k->sub_programs : mask, sub);
        }
    }
}

static void docs_ignored(buf_t *out, unsigned mask)
{
    const char *sep = "\nAccepted for compatibility with upstream files and ignored: ";
    for (size_t i = 0; i < cfg__root.n_keys; i++) {
        const cfg__key_t *k = &cfg__root.keys[i];
        if ((k->programs & mask) != 0 && k->type == CFG__IGNORED) {
            buf_printf(out, "%s`%s`", sep, k->path);
            sep = ", ";
        }
    }
    buf_puts(out, ".\n");
}

static const char docs_intro[] =
    "# herald configuration reference\n"
    "\n"
    "Generated from `config/config_keys.c` by `cfg_write_docs()`; do not edit by hand. After\n"
    "changing the key table, regenerate it with\n"
    "`HERALD_UPDATE_DOCS=1 build/tests/test_config docs_are_current` (the unit test fails\n"
    "while this file is stale).\n"
    "\n"
    "Every program reads its embedded defaults, then the YAML file named by `-config.file`\n"
    "(optional), then its flags: flags override the file. Flags take Go's forms: `-name=value`,\n"
    "`-name value`, `--name`, and a bare `-name` for booleans. `-config.expand-env=true`\n"
    "substitutes `${VAR}`, `${VAR:default}` (Mimir), `${VAR:-default}` (Loki) and `$VAR` before\n"
    "the YAML is parsed; an unset or empty variable takes the default, else the empty string.\n"
    "Unknown keys and values of the wrong type are errors naming the file, line and key.\n"
    "\n"
    "Types: durations are Prometheus durations (`1h30m`, `15d`) or Go durations (`1.5h`);\n"
    "sizes are bytes or base-2 units (`256KB` = 262144); lists are YAML sequences (flags:\n"
    "comma-separated); maps are YAML mappings. A key that is empty or `null` in the file\n"
    "keeps its default. `GET /config` prints the effective configuration in this form.\n"
    "\n"
    "Defaults differ from upstream where herald runs as one process with data under\n"
    "`./data`: ports (herald-promd 9009, herald-alertd 9093), directories, the rulers'\n"
    "`alertmanager_url` (herald-promd's embedded Alertmanager) and `ruler.storage.type`\n"
    "(`local`, writable). Keys marked herald are herald's own.\n"
    "\n"
    "Per-tenant limits: `runtime_config.file` names a YAML file of the form\n"
    "`overrides: {<tenant>: {<key>: <value>}}` whose keys are those of `limits:`\n"
    "(herald-promd, herald-alertd) or `limits_config:` (herald-logd); a tenant's other limits\n"
    "keep the configuration's values. One file, re-read every `runtime_config.period`.\n";

void cfg_write_docs(buf_t *out)
{
    buf_puts(out, docs_intro);
    for (int p = CFG_PROMD; p <= CFG_RULESYNC; p++) {
        unsigned mask = cfg__program_mask((cfg_program_t)p);
        buf_printf(out, "\n## %s\n\n", cfg_program_name((cfg_program_t)p));
        buf_puts(out, "| YAML key | flag | type | default | description |\n");
        buf_puts(out, "|---|---|---|---|---|\n");
        docs_rows(out, &cfg__root, mask, "");
        docs_ignored(out, mask);
    }
}
