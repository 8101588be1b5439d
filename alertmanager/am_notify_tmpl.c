/* alertmanager/am_notify_tmpl.c - Slack (incoming webhook) and PagerDuty (Events API v2)
 * request bodies: every templated setting expanded against the notification's template
 * data, then encoded byte for byte as Go's json.Encoder writes Alertmanager 0.25's structs
 * (field order, omitempty, HTML escaping, trailing newline). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertmanager/am_int.h"
#include "common/mem.h"

typedef struct {
    const am_config_t *c;
    json_t *data; /* template.Data as JSON */
    err_t *err;   /* first expansion error */
    arena_t *a;
} tctx_t;

/* tmplText: expands `text`; on error the first error is kept and "" returned. */
static const char *tt(tctx_t *x, const char *text)
{
    buf_t b;
    if (text == NULL || text[0] == '\0') {
        return "";
    }
    buf_init(&b);
    buf_puts(&b, "");
    if (tmpl_am_expand(x->c->tmpl, text, x->data, NULL, &b, x->err) < 0) {
        buf_fini(&b);
        return "";
    }
    const char *s = arena_strdup(x->a, b.data);
    buf_fini(&b);
    return s;
}

/* notify.Truncate: at most n runes, the last replaced by "…" when cut. */
static const char *truncate_runes(arena_t *a, const char *s, size_t n)
{
    size_t runes = 0, i = 0, cut = 0;
    for (; s[i] != '\0'; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            if (runes == n - 1) {
                cut = i;
            }
            runes++;
        }
    }
    if (runes <= n) {
        return s;
    }
    return arena_sprintf(a, "%.*s…", (int)cut, s);
}

/* ---- Slack ---------------------------------------------------------------------------- */

static const char *fld(const am_integration_t *in, const char *name)
{
    int i = am__recv_field(in->kind, name);
    return i >= 0 ? in->fields[i] : NULL;
}

static const char *ynode_str(const am_ynode_t *n, const char *key)
{
    const am_ynode_t *v = am__ymap_get(n, key);
    return v != NULL && v->kind == AM_Y_SCALAR ? v->str : NULL;
}

static int ynode_bool(const am_ynode_t *n, const char *key, int dflt)
{
    int v = dflt;
    am__y_bool(am__ymap_get(n, key), &v, NULL);
    return v;
}

static void slack_fields(tctx_t *x, const am_integration_t *in, am_gobj_t *att)
{
    const am_ynode_t *fs = am__ymap_get(in->node, "fields");
    int short_all = ynode_bool(in->node, "short_fields", 0);
    if (fs == NULL || fs->kind != AM_Y_SEQ || fs->n == 0) {
        return;
    }
    am__gj_key(att, "fields");
    buf_putc(att->b, '[');
    for (size_t i = 0; i < fs->n; i++) {
        am_gobj_t f;
        if (i > 0) {
            buf_putc(att->b, ',');
        }
        am__gj_begin(&f, att->b);
        am__gj_str(&f, "title", tt(x, ynode_str(fs->vals[i], "title")), 1);
        am__gj_str(&f, "value", tt(x, ynode_str(fs->vals[i], "value")), 1);
        am__gj_key(&f, "short");
        buf_puts(att->b, ynode_bool(fs->vals[i], "short", short_all) ? "true" : "false");
        buf_putc(att->b, '}');
    }
    buf_putc(att->b, ']');
}

static void slack_actions(tctx_t *x, const am_integration_t *in, am_gobj_t *att)
{
    static const char *const keys[] = {"type", "text", "url", "style", "name", "value"};
    static const char *const ckeys[] = {"title", "text", "ok_text", "dismiss_text"};
    const am_ynode_t *as = am__ymap_get(in->node, "actions");
    if (as == NULL || as->kind != AM_Y_SEQ || as->n == 0) {
        return;
    }
    am__gj_key(att, "actions");
    buf_putc(att->b, '[');
    for (size_t i = 0; i < as->n; i++) {
        am_gobj_t o;
        if (i > 0) {
            buf_putc(att->b, ',');
        }
        am__gj_begin(&o, att->b);
        for (size_t k = 0; k < 6; k++) {
            am__gj_str(&o, keys[k], tt(x, ynode_str(as->vals[i], keys[k])), 1);
        }
        const am_ynode_t *cf = am__ymap_get(as->vals[i], "confirm");
        if (cf != NULL && cf->kind == AM_Y_MAP) {
            am_gobj_t c;
            am__gj_key(&o, "confirm");
            am__gj_begin(&c, att->b);
            for (size_t k = 0; k < 4; k++) {
                am__gj_str(&c, ckeys[k], tt(x, ynode_str(cf, ckeys[k])), k != 1);
            }
            buf_putc(att->b, '}');
        }
        buf_putc(att->b, '}');
    }
    buf_putc(att->b, ']');
}

static void slack_mrkdwn(const am_integration_t *in, am_gobj_t *att)
{
    const am_ynode_t *m = am__ymap_get(in->node, "mrkdwn_in");
    am__gj_key(att, "mrkdwn_in");
    if (m == NULL || m->kind != AM_Y_SEQ || m->n == 0) {
        buf_puts(att->b, "[\"fallback\",\"pretext\",\"text\"]");
        return;
    }
    buf_putc(att->b, '[');
    for (size_t i = 0; i < m->n; i++) {
        if (i > 0) {
            buf_putc(att->b, ',');
        }
        am__gojson_str(att->b, m->vals[i]->str != NULL ? m->vals[i]->str : "");
    }
    buf_putc(att->b, ']');
}

static void slack_attachment(tctx_t *x, const am_integration_t *in, buf_t *b)
{
    am_gobj_t att;
    am__gj_begin(&att, b);
    am__gj_str(&att, "title", truncate_runes(x->a, tt(x, fld(in, "title")), 1024), 1);
    am__gj_str(&att, "title_link", tt(x, fld(in, "title_link")), 1);
    am__gj_str(&att, "pretext", tt(x, fld(in, "pretext")), 1);
    am__gj_str(&att, "text", tt(x, fld(in, "text")), 0);
    am__gj_str(&att, "fallback", tt(x, fld(in, "fallback")), 0);
    am__gj_str(&att, "callback_id", tt(x, fld(in, "callback_id")), 0);
    slack_fields(x, in, &att);
    slack_actions(x, in, &att);
    am__gj_str(&att, "image_url", tt(x, fld(in, "image_url")), 1);
    am__gj_str(&att, "thumb_url", tt(x, fld(in, "thumb_url")), 1);
    am__gj_str(&att, "footer", tt(x, fld(in, "footer")), 0);
    am__gj_str(&att, "color", tt(x, fld(in, "color")), 1);
    slack_mrkdwn(in, &att);
    buf_putc(b, '}');
}

static void slack_body(tctx_t *x, const am_integration_t *in, buf_t *b)
{
    am_gobj_t req;
    am__gj_begin(&req, b);
    am__gj_str(&req, "channel", tt(x, fld(in, "channel")), 1);
    am__gj_str(&req, "username", tt(x, fld(in, "username")), 1);
    am__gj_str(&req, "icon_emoji", tt(x, fld(in, "icon_emoji")), 1);
    am__gj_str(&req, "icon_url", tt(x, fld(in, "icon_url")), 1);
    if (ynode_bool(in->node, "link_names", 0)) {
        am__gj_key(&req, "link_names");
        buf_puts(b, "true");
    }
    am__gj_key(&req, "attachments");
    buf_putc(b, '[');
    slack_attachment(x, in, b);
    buf_puts(b, "]}\n");
}

/* ---- PagerDuty ------------------------------------------------------------------------ */

static const am_kv_t pd_default_details[] = {
    {"firing", "{{ template \"pagerduty.default.instances\" .Alerts.Firing }}"},
    {"num_firing", "{{ .Alerts.Firing | len }}"},
    {"num_resolved", "{{ .Alerts.Resolved | len }}"},
    {"resolved", "{{ template \"pagerduty.default.instances\" .Alerts.Resolved }}"},
    {NULL, NULL}};

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const am_kv_t *)a)->key, ((const am_kv_t *)b)->key);
}

/* custom_details: user details plus the defaults they do not override, sorted (Go map). */
static void pd_details(tctx_t *x, const am_integration_t *in, am_gobj_t *o)
{
    am_kv_t all[64];
    size_t n = 0;
    for (size_t i = 0; i < in->n_map && n < 60; i++) {
        all[n++] = in->map[i];
    }
    for (size_t i = 0; pd_default_details[i].key != NULL; i++) {
        size_t j = 0;
        while (j < in->n_map && strcmp(in->map[j].key, pd_default_details[i].key) != 0) {
            j++;
        }
        if (j == in->n_map) {
            all[n++] = pd_default_details[i];
        }
    }
    qsort(all, n, sizeof(all[0]), kv_cmp);
    am__gj_key(o, "custom_details");
    am_gobj_t d;
    am__gj_begin(&d, o->b);
    for (size_t i = 0; i < n; i++) {
        am__gj_str(&d, all[i].key, tt(x, all[i].value), 0);
    }
    buf_putc(o->b, '}');
}

static void pd_list(tctx_t *x, const am_integration_t *in, am_gobj_t *o, const char *key,
                    const char *const *names, size_t n_names, const char *const *json_names)
{
    const am_ynode_t *l = am__ymap_get(in->node, key);
    int opened = 0;
    for (size_t i = 0; l != NULL && l->kind == AM_Y_SEQ && i < l->n; i++) {
        const char *vals[3];
        for (size_t k = 0; k < n_names; k++) {
            vals[k] = tt(x, ynode_str(l->vals[i], names[k]));
        }
        if (vals[0][0] == '\0') {
            continue; /* an image without src, a link without href, is dropped */
        }
        if (!opened) {
            am__gj_key(o, key);
            buf_putc(o->b, '[');
            opened = 1;
        } else {
            buf_putc(o->b, ',');
        }
        am_gobj_t e;
        am__gj_begin(&e, o->b);
        for (size_t k = 0; k < n_names; k++) {
            am__gj_str(&e, json_names[k], vals[k], 1);
        }
        buf_putc(o->b, '}');
    }
    if (opened) {
        buf_putc(o->b, ']');
    }
}

static void pd_payload(tctx_t *x, const am_integration_t *in, am_gobj_t *msg)
{
    am_gobj_t p;
    const char *source = fld(in, "source");
    am__gj_key(msg, "payload");
    am__gj_begin(&p, msg->b);
    am__gj_str(&p, "summary", truncate_runes(x->a, tt(x, fld(in, "description")), 1024), 0);
    am__gj_str(&p, "source", tt(x, source != NULL ? source : fld(in, "client")), 0);
    am__gj_str(&p, "severity", tt(x, fld(in, "severity")), 0);
    am__gj_str(&p, "class", tt(x, fld(in, "class")), 1);
    am__gj_str(&p, "component", tt(x, fld(in, "component")), 1);
    am__gj_str(&p, "group", tt(x, fld(in, "group")), 1);
    pd_details(x, in, &p);
    buf_putc(msg->b, '}');
}

static void pd_body(tctx_t *x, const am_integration_t *in, const am_notice_t *n, buf_t *b)
{
    static const char *const img_keys[] = {"src", "alt", "href"};
    static const char *const link_keys[] = {"href", "text"};
    char dedup[65];
    am_gobj_t msg;
    int firing = strcmp(am__notice_status(n), "firing") == 0;
    am__sha256_hex(n->group_key, dedup);
    am__gj_begin(&msg, b);
    am__gj_str(&msg, "routing_key", tt(x, fld(in, "routing_key")), 1);
    am__gj_str(&msg, "dedup_key", dedup, 1);
    am__gj_str(&msg, "event_action", firing ? "trigger" : "resolve", 0);
    pd_payload(x, in, &msg); /* 0.25 sends the payload with resolve events too */
    am__gj_str(&msg, "client", tt(x, fld(in, "client")), 1);
    am__gj_str(&msg, "client_url", tt(x, fld(in, "client_url")), 1);
    pd_list(x, in, &msg, "images", img_keys, 3, img_keys);
    pd_list(x, in, &msg, "links", link_keys, 2, link_keys);
    buf_puts(b, "}\n");
}

int am__notify_format_tmpl(const am_integration_t *in, const am_config_t *c,
                           const am_notice_t *n, am_request_t *req, err_t *err)
{
    buf_t data;
    buf_init(&data);
    am__notice_data_json(n, &data);
    tctx_t x = {.c = c, .err = err, .a = arena_new(0, NULL)};
    x.data = json_loads(data.data, 0, NULL);
    buf_fini(&data);
    if (in->kind == AM_RECV_SLACK) {
        slack_body(&x, in, &req->body);
    } else if (in->kind == AM_RECV_PAGERDUTY) {
        pd_body(&x, in, n, &req->body);
    } else {
        err_set(err, ERR_BAD_DATA, "unsupported receiver type %s", am__recv_kind_name(in->kind));
    }
    json_decref(x.data);
    arena_free(x.a);
    /* A template error is permanent: retrying would render the same failure. */
    return err_is_set(err) ? -1 : 0;
}
