/* tests/fuzz/fuzz_rulesync.c - libFuzzer target for herald-rulesync's two YAML readers
 * (ruler/rulesync_int.h). The first input byte picks the reader, the rest is the text:
 *   even: rulesync__manifest_parse (Kubernetes manifests: PrometheusRule, Namespace, List),
 *      into a list that already holds one object. Invariants: a failure leaves the list as
 *      it was and says why; on success every new object has a kind, a name, a namespace
 *      and a uid, its label and annotation sets are sorted with unique keys, and its groups
 *      and rules can be walked.
 *   odd: rulesync__listing_parse (a ruler's GET listing). Invariants: namespaces come out
 *      sorted and unique, and each group (the first few) survives a round trip: its YAML
 *      from rulesync__group_yaml, put back in a listing, parses to the same YAML.
 * Everything is freed per input (objects own their arenas; the listing gets one arena). */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/buf.h"
#include "ruler/rulesync_int.h"

#define ROUNDTRIP_GROUPS 8

static const char base_manifest[] = "kind: Namespace\nmetadata: {name: base}\n";

static void check_kvs(const rulesync_kvs_t *kv)
{
    for (size_t i = 0; i < kv->n; i++) {
        if (kv->items[i].key == NULL || kv->items[i].value == NULL ||
            (i > 0 && strcmp(kv->items[i - 1].key, kv->items[i].key) >= 0)) {
            abort();
        }
        (void)strlen(kv->items[i].value);
    }
}

/* "8-4-4-4-12" lower-case hex, as rulesync__derive_uid promises. */
static int uuid_shaped(const char *s)
{
    if (strlen(s) != 36) {
        return 0;
    }
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !(isdigit((unsigned char)s[i]) || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

static void walk_text(const char *s)
{
    if (s != NULL) {
        (void)strlen(s);
    }
}

static void check_obj(const rulesync_obj_t *o)
{
    if ((o->kind != RULESYNC_OBJ_RULE && o->kind != RULESYNC_OBJ_NAMESPACE) || o->arena == NULL ||
        o->name == NULL || o->ns == NULL || o->uid == NULL || o->uid[0] == '\0' ||
        o->file == NULL || o->resource_version == NULL ||
        !uuid_shaped(rulesync__derive_uid(o->arena, o->ns, o->name))) {
        abort();
    }
    check_kvs(&o->labels);
    check_kvs(&o->annotations);
    for (size_t g = 0; g < o->n_groups; g++) {
        const rulesync_raw_group_t *rg = &o->groups[g];
        walk_text(rg->name);
        walk_text(rg->interval);
        check_kvs(&rg->labels);
        for (size_t r = 0; r < rg->n_rules; r++) {
            walk_text(rg->rules[r].expr);
            check_kvs(&rg->rules[r].labels);
            check_kvs(&rg->rules[r].annotations);
        }
    }
}

static void fuzz_manifest(const char *text, size_t len)
{
    rulesync_objs_t objs = {0};
    err_t err = {0};
    if (rulesync__manifest_parse(base_manifest, sizeof(base_manifest) - 1, "base.yaml", &objs,
                                 &err) != 0 ||
        objs.n != 1) {
        abort();
    }
    if (rulesync__manifest_parse(text, len, "fuzz.yaml", &objs, &err) != 0) {
        if (objs.n != 1 || err.code != ERR_BAD_DATA || strstr(err.msg, "fuzz.yaml") == NULL) {
            abort();
        }
    }
    for (size_t i = 0; i < objs.n; i++) {
        check_obj(objs.items[i]);
    }
    rulesync__objs_fini(&objs);
}

/* The group's YAML put back as the only group of namespace "ns" must parse to the same. */
static void check_roundtrip(arena_t *a, const rulesync_group_t *g)
{
    buf_t one, listing, again;
    buf_init(&one);
    buf_init(&listing);
    buf_init(&again);
    rulesync__group_yaml(g, &one);
    buf_putc(&one, '\0');
    buf_puts(&listing, "ns:\n");
    for (const char *line = one.data; *line != '\0';) {
        const char *nl = strchr(line, '\n');
        size_t n = nl != NULL ? (size_t)(nl - line + 1) : strlen(line);
        buf_puts(&listing, line == one.data ? "    - " : "      ");
        buf_append(&listing, line, n);
        line += n;
    }
    rulesync_state_t st;
    err_t err = {0};
    if (rulesync__listing_parse(a, listing.data, listing.len, &st, &err) != 0 || st.n != 1 ||
        st.ns[0].n_groups != 1) {
        fprintf(stderr, "round trip of:\n%s\nfailed: %s\n", listing.data, err.msg);
        abort();
    }
    rulesync__group_yaml(&st.ns[0].groups[0], &again);
    buf_putc(&again, '\0');
    if (strcmp(one.data, again.data) != 0) {
        fprintf(stderr, "round trip changed the group:\n%s\n---\n%s\n", one.data, again.data);
        abort();
    }
    buf_fini(&one);
    buf_fini(&listing);
    buf_fini(&again);
}

static void fuzz_listing(const char *text, size_t len)
{
    arena_t *a = arena_new(0, NULL);
    rulesync_state_t st;
    err_t err = {0};
    if (rulesync__listing_parse(a, text, len, &st, &err) == 0) {
        size_t budget = ROUNDTRIP_GROUPS;
        for (size_t i = 0; i < st.n; i++) {
            if (st.ns[i].name == NULL || (i > 0 && strcmp(st.ns[i - 1].name, st.ns[i].name) >= 0)) {
                abort();
            }
            for (size_t g = 0; g < st.ns[i].n_groups && budget > 0; g++, budget--) {
                check_roundtrip(a, &st.ns[i].groups[g]);
            }
        }
    } else if (err.code != ERR_BAD_DATA) {
        abort();
    }
    arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* called by libFuzzer */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    /* the readers take a length, but libyaml's scalars are C strings: no NUL needed */
    const char *text = (const char *)data + 1;
    if (data[0] & 1) {
        fuzz_listing(text, size - 1);
    } else {
        fuzz_manifest(text, size - 1);
    }
    return 0;
}
