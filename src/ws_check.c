/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_check.c -- configuration checks at startup: a WebSocketHandler that
 * no "SetHandler websocket-handler" reaches, a WebSocketBridge that no
 * "SetHandler websocket-bridge" reaches, and MaxSpareThreads below
 * MaxRequestWorkers while the asynchronous driver may be in use.
 *
 * Both read the configuration tree (ap_conftree) as it was parsed, not
 * the merged per-directory records: the tree keeps the file name and line
 * of every directive for the message, and the argument of SetHandler,
 * which core keeps only as a compiled expression.  Which sections a
 * request finally merges is decided per request; the checks approximate
 * it and, wherever they cannot tell, assume that the configuration works:
 * a warning must be right when it is given.
 */
#include "httpd.h"

#include "apr_strings.h"

#include "ap_mpm.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "util_cfgtree.h"

#include "ws_check.h"
#include "ws_config.h"
#include "ws_log.h"

APLOG_USE_MODULE(websocket);

typedef enum {
    SEC_NONE = 0, /* not a per-directory section, or one that is
                   * transparent for this purpose (<Limit>, ...) */
    SEC_URL,      /* <Location>, <LocationMatch> */
    SEC_DIR,      /* <Directory>, <DirectoryMatch> */
    SEC_FILES,    /* <Files>, <FilesMatch> */
    SEC_OTHER     /* <If>, <Proxy>, ...: where they apply is not a path */
} sec_kind_e;

/* What the checks look at, collected in one walk of the tree. */
typedef struct {
    apr_pool_t *p;
    apr_array_header_t *plugins; /* WebSocketHandler directives */
    apr_array_header_t *setters; /* directives that may set our handler */
    apr_array_header_t *drivers; /* WebSocketDriver directives */
    apr_array_header_t *serving; /* the plugins that can serve requests */
    apr_array_header_t *bridges; /* WebSocketBridge directives */
    apr_array_header_t *bridge_setters; /* ... that may set the bridge */
} ws_tree_t;

static sec_kind_e kind_of(const ap_directive_t *d)
{
    static const struct {
        const char *name;
        sec_kind_e kind;
    } kinds[] = {
        {"<Location", SEC_URL},   {"<LocationMatch", SEC_URL},
        {"<Directory", SEC_DIR},  {"<DirectoryMatch", SEC_DIR},
        {"<Files", SEC_FILES},    {"<FilesMatch", SEC_FILES},
        {"<If", SEC_OTHER},       {"<ElseIf", SEC_OTHER},
        {"<Else", SEC_OTHER},     {"<Proxy", SEC_OTHER},
        {"<ProxyMatch", SEC_OTHER}
    };
    apr_size_t i;

    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (!strcasecmp(d->directive, kinds[i].name)) {
            return kinds[i].kind;
        }
    }
    return SEC_NONE;
}

static int is_vhost(const ap_directive_t *d)
{
    return !strcasecmp(d->directive, "<VirtualHost");
}

/* The <VirtualHost> around d, or NULL for the main server. */
static const ap_directive_t *vhost_of(const ap_directive_t *d)
{
    for (d = d->parent; d != NULL; d = d->parent) {
        if (is_vhost(d)) {
            return d;
        }
    }
    return NULL;
}

/* The innermost section around d, or NULL at server level. */
static const ap_directive_t *section_of(const ap_directive_t *d)
{
    for (d = d->parent; d != NULL && !is_vhost(d); d = d->parent) {
        if (kind_of(d) != SEC_NONE) {
            return d;
        }
    }
    return NULL;
}

/* The outermost section around d (e.g. the <Directory> of a <Files>
 * inside it), or NULL at server level. */
static const ap_directive_t *top_section_of(const ap_directive_t *d)
{
    const ap_directive_t *top = NULL;

    for (d = d->parent; d != NULL && !is_vhost(d); d = d->parent) {
        if (kind_of(d) != SEC_NONE) {
            top = d;
        }
    }
    return top;
}

/* The path of a section ("<Location /chat>" -> "/chat"); *pattern is set
 * when it is a regex or wildcard, or no path at all. */
static const char *section_path(apr_pool_t *p, const ap_directive_t *sec,
                                int *pattern)
{
    char *args = apr_pstrdup(p, sec->args ? sec->args : "");
    char *gt = strrchr(args, '>');
    const char *line = args, *path;
    apr_size_t n = strlen(sec->directive);

    if (gt != NULL) {
        *gt = '\0';
    }
    path = ap_getword_conf(p, &line);
    *pattern = kind_of(sec) == SEC_OTHER
               || (n > 5 && !strcasecmp(sec->directive + n - 5, "Match"))
               || !strcmp(path, "~") || ap_is_matchexp(path);
    return path;
}

/* "<Location /chat>", for messages */
static const char *section_name(apr_pool_t *p, const ap_directive_t *sec)
{
    return apr_pstrcat(p, sec->directive, " ", sec->args, NULL);
}

/* Whether a request can fall under both a and b: one section is inside
 * the other, or their paths are prefixes of one another, or we cannot
 * tell (regex, wildcard, <If>, sections of different kinds). */
static int may_overlap(apr_pool_t *p, const ap_directive_t *a,
                       const ap_directive_t *b)
{
    const ap_directive_t *va = vhost_of(a), *vb = vhost_of(b);
    const ap_directive_t *ta = top_section_of(a), *tb = top_section_of(b);
    const char *pa, *pb;
    int pata, patb;
    apr_size_t n;

    /* the main server's sections apply in every virtual host too */
    if (va != NULL && vb != NULL && va != vb) {
        return 0;
    }
    if (ta == NULL || tb == NULL || ta == tb || kind_of(ta) != kind_of(tb)) {
        return 1;
    }
    pa = section_path(p, ta, &pata);
    pb = section_path(p, tb, &patb);
    if (pata || patb) {
        return 1;
    }
    n = strlen(pa) < strlen(pb) ? strlen(pa) : strlen(pb);
    return strncmp(pa, pb, n) == 0;
}

/* SetHandler @p name, an expression (evaluated per request: it may give
 * ours), or any other directive naming the handler (AddHandler,
 * RewriteRule [H=websocket-handler], ...). */
static int may_set_handler(apr_pool_t *p, const ap_directive_t *d,
                           const char *name)
{
    const char *args = d->args ? d->args : "";

    if (d->directive[0] == '<'
        || !strcasecmp(d->directive, "WebSocketHandler")
        || !strcasecmp(d->directive, "WebSocketBridge")) {
        return 0;
    }
    if (!strcasecmp(d->directive, "SetHandler")) {
        const char *h = ap_getword_conf(p, &args);

        return !strcasecmp(h, name) || !strncasecmp(h, "expr=", 5);
    }
    return ap_strcasestr(args, name) != NULL;
}

static void collect(ws_tree_t *t, const ap_directive_t *d)
{
    for (; d != NULL; d = d->next) {
        if (!strcasecmp(d->directive, "WebSocketHandler")) {
            APR_ARRAY_PUSH(t->plugins, const ap_directive_t *) = d;
        }
        else if (!strcasecmp(d->directive, "WebSocketDriver")) {
            APR_ARRAY_PUSH(t->drivers, const ap_directive_t *) = d;
        }
        else if (!strcasecmp(d->directive, "WebSocketBridge")) {
            APR_ARRAY_PUSH(t->bridges, const ap_directive_t *) = d;
        }
        else {
            if (may_set_handler(t->p, d, WS_HANDLER_NAME)) {
                APR_ARRAY_PUSH(t->setters, const ap_directive_t *) = d;
            }
            if (may_set_handler(t->p, d, WS_BRIDGE_HANDLER_NAME)) {
                APR_ARRAY_PUSH(t->bridge_setters,
                               const ap_directive_t *) = d;
            }
        }
        if (d->first_child != NULL) {
            collect(t, d->first_child);
        }
    }
}

/* Warns of every WebSocketHandler that no SetHandler websocket-handler
 * can reach: httpd serves its upgrade requests as plain ones (a 404, as
 * a rule), and nothing else says why (the opposite mistake gets WS00207
 * at request time). */
static void check_handlers(ws_tree_t *t, server_rec *s)
{
    int i, j;

    for (i = 0; i < t->plugins->nelts; i++) {
        const ap_directive_t *d = APR_ARRAY_IDX(t->plugins, i,
                                                const ap_directive_t *);
        const ap_directive_t *sec = section_of(d);
        int reached = 0;

        for (j = 0; j < t->setters->nelts && !reached; j++) {
            reached = may_overlap(t->p, APR_ARRAY_IDX(t->setters, j,
                                                      const ap_directive_t *),
                                  d);
        }
        if (reached || sec == NULL) {
            APR_ARRAY_PUSH(t->serving, const ap_directive_t *) = d;
            continue;
        }
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     WS_LOGNO(00601) "%s:%d: WebSocketHandler in %s is "
                     "never used: no \"SetHandler " WS_HANDLER_NAME "\" "
                     "applies there, so WebSocket upgrades are served as "
                     "plain requests (404, as a rule); add it to that "
                     "section", d->filename, d->line_num,
                     section_name(t->p, sec));
    }
}

/* Warns of every WebSocketBridge that no SetHandler websocket-bridge can
 * reach: its upgrade requests go to whatever handler applies there (a
 * 404, as a rule, or a plugin's WebSocket), never to the backend. */
static void check_bridges(ws_tree_t *t, server_rec *s)
{
    int i, j;

    for (i = 0; i < t->bridges->nelts; i++) {
        const ap_directive_t *d = APR_ARRAY_IDX(t->bridges, i,
                                                const ap_directive_t *);
        const ap_directive_t *sec = section_of(d);
        int reached = 0;

        for (j = 0; j < t->bridge_setters->nelts && !reached; j++) {
            reached = may_overlap(t->p,
                                  APR_ARRAY_IDX(t->bridge_setters, j,
                                                const ap_directive_t *),
                                  d);
        }
        if (reached || sec == NULL) {
            continue;
        }
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     WS_LOGNO(00604) "%s:%d: WebSocketBridge in %s is "
                     "never used: no \"SetHandler " WS_BRIDGE_HANDLER_NAME
                     "\" applies there, so WebSocket upgrades are not "
                     "bridged (another handler serves them, or they get "
                     "404); add it to that section", d->filename,
                     d->line_num, section_name(t->p, sec));
    }
}

/* How many sections are around and including sec. */
static int depth_of(const ap_directive_t *sec)
{
    int n = 0;

    for (; sec != NULL && !is_vhost(sec); sec = sec->parent) {
        n += kind_of(sec) != SEC_NONE;
    }
    return n;
}

/* How specifically the WebSocketDriver at d applies to the plugin at
 * plugin: 0 not known to apply; higher wins.  The plugin's own section
 * and those around it beat everything, the innermost first; then other
 * sections of the same kind whose path is a prefix of the plugin's
 * section's path, the longest first. */
static int driver_rank(apr_pool_t *p, const ap_directive_t *d,
                       const ap_directive_t *plugin)
{
    const ap_directive_t *vd = vhost_of(d), *sd = section_of(d);
    const ap_directive_t *x, *td, *tp;
    const char *pd, *pp;
    int patd, patp;

    if ((vd != NULL && vd != vhost_of(plugin)) || sd == NULL) {
        return 0;
    }
    for (x = section_of(plugin); x != NULL; x = section_of(x)) {
        if (x == sd) {
            return 100000 + depth_of(sd);
        }
    }
    td = top_section_of(d);
    tp = top_section_of(plugin);
    if (td != sd || tp == NULL || kind_of(td) != kind_of(tp)) {
        return 0;
    }
    pd = section_path(p, td, &patd);
    pp = section_path(p, tp, &patp);
    if (patd || patp || strncmp(pd, pp, strlen(pd)) != 0) {
        return 0;
    }
    return 1 + (int)strlen(pd);
}

/* The driver the plugin at d runs under, as far as the tree tells. */
static ws_driver_e driver_of(ws_tree_t *t, const ap_directive_t *plugin)
{
    const ap_directive_t *best = NULL;
    int i, rank = 0;

    for (i = 0; i < t->drivers->nelts; i++) {
        const ap_directive_t *d = APR_ARRAY_IDX(t->drivers, i,
                                                const ap_directive_t *);
        int r = driver_rank(t->p, d, plugin);

        /* equal rank: the later section is merged later */
        if (r > 0 && r >= rank) {
            best = d;
            rank = r;
        }
    }
    if (best == NULL || best->args == NULL) {
        return WS_DRIVER_AUTO;
    }
    if (!strcasecmp(best->args, "Blocking")) {
        return WS_DRIVER_BLOCKING;
    }
    return !strcasecmp(best->args, "Async") ? WS_DRIVER_ASYNC
                                            : WS_DRIVER_AUTO;
}

/* Warns when the event MPM may retire a child process for its idle
 * threads while WebSockets on the asynchronous driver, which hold no
 * thread, are open in it: they would all get 1001 (see README). */
static void check_spare_threads(ws_tree_t *t, server_rec *s)
{
#ifdef AP_MPMQ_CAN_WAITIO
    const ap_directive_t *async = NULL;
    int can = 0, tpc = 0, daemons = 0, min_spare = 0, max_spare = 0;
    int workers, least, i;

    if (ap_mpm_query(AP_MPMQ_CAN_WAITIO, &can) != APR_SUCCESS || !can) {
        return;
    }
    for (i = 0; i < t->serving->nelts && async == NULL; i++) {
        const ap_directive_t *d = APR_ARRAY_IDX(t->serving, i,
                                                const ap_directive_t *);

        if (section_of(d) != NULL && driver_of(t, d) != WS_DRIVER_BLOCKING) {
            async = d;
        }
    }
    /* the event MPM answers these once check_config has run, which is
     * before post_config and test_config */
    if (async == NULL
        || ap_mpm_query(AP_MPMQ_MAX_THREADS, &tpc) != APR_SUCCESS
        || ap_mpm_query(AP_MPMQ_MAX_DAEMONS, &daemons) != APR_SUCCESS
        || ap_mpm_query(AP_MPMQ_MIN_SPARE_THREADS, &min_spare) != APR_SUCCESS
        || ap_mpm_query(AP_MPMQ_MAX_SPARE_THREADS, &max_spare)
               != APR_SUCCESS
        || tpc <= 0 || daemons <= 0) {
        return;
    }
    workers = tpc * daemons;
    /* the event MPM raises MaxSpareThreads to MinSpareThreads +
     * ThreadsPerChild + 1 when it starts (with one listener bucket, the
     * default; more buckets raise it further) */
    least = min_spare + tpc + 1;
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                 WS_LOGNO(00603) "asynchronous driver possible: "
                 "ThreadsPerChild %d, MaxRequestWorkers %d, "
                 "MinSpareThreads %d, MaxSpareThreads %d", tpc, workers,
                 min_spare, max_spare);
    if (max_spare >= workers || least >= workers) {
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                 WS_LOGNO(00602) "MaxSpareThreads %d is below "
                 "MaxRequestWorkers %d while WebSockets may use the "
                 "asynchronous driver (WebSocketDriver Auto or Async, e.g. "
                 "%s at %s:%d): they hold no thread, so the event MPM can "
                 "take a child process full of them for idle and retire "
                 "it, closing them all with 1001; set MaxSpareThreads %d "
                 "(= MaxRequestWorkers)", max_spare, workers,
                 section_name(t->p, section_of(async)), async->filename,
                 async->line_num, workers);
#endif
}

static void run_checks(apr_pool_t *p, server_rec *s)
{
    ws_tree_t t;

    t.p = p;
    t.plugins = apr_array_make(p, 8, sizeof(const ap_directive_t *));
    t.setters = apr_array_make(p, 8, sizeof(const ap_directive_t *));
    t.drivers = apr_array_make(p, 8, sizeof(const ap_directive_t *));
    t.serving = apr_array_make(p, 8, sizeof(const ap_directive_t *));
    t.bridges = apr_array_make(p, 4, sizeof(const ap_directive_t *));
    t.bridge_setters = apr_array_make(p, 4, sizeof(const ap_directive_t *));
    collect(&t, ap_conftree);
    check_handlers(&t, s);
    check_bridges(&t, s);
    check_spare_threads(&t, s);
}

static int check_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s)
{
    /* at startup httpd reads the configuration twice; warn once, on the
     * pass that serves (it also runs after every restart) */
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        run_checks(ptemp, s);
    }
    return OK;
}

/* httpd -t (and -S, -M): no post_config; logs still go to stderr */
static void check_test_config(apr_pool_t *pconf, server_rec *s)
{
    apr_pool_t *p;

    if (apr_pool_create(&p, pconf) == APR_SUCCESS) {
        run_checks(p, s);
        apr_pool_destroy(p);
    }
}

void ws_check_register_hooks(apr_pool_t *p)
{
    ap_hook_post_config(check_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_test_config(check_test_config, NULL, NULL, APR_HOOK_MIDDLE);
}
