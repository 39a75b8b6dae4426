/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_plugin.c -- loading plugins named by WebSocketHandler.
 */
#include "httpd.h"
#include "apr_dso.h"
#include "apr_hash.h"
#include "apr_strings.h"

#include "http_log.h"

#include "ws_chan.h"
#include "ws_host.h"
#include "ws_log.h"
#include "ws_plugin.h"

APLOG_USE_MODULE(websocket);

/* pconf userdata key of the registry of plugins loaded in this
 * configuration generation: pconf is cleared between generations, so
 * the registry (and every DSO in it) lives exactly one generation. */
#define REGISTRY_KEY "mod_websocket-plugins"

/* sizeof(WebSocketPlugin) of API v0: what every plugin has */
#define WS_PLUGIN_V0_SIZE APR_OFFSETOF(WebSocketPlugin, on_close)

static apr_status_t plugin_cleanup(void *data)
{
    ws_plugin_t *wp = data;

    /* runs before apr_dso's own cleanup (registered earlier) unloads
     * the library, so destroy() is still mapped */
    if (wp->plugin && wp->plugin->destroy) {
        wp->plugin->destroy(wp->plugin);
    }
    wp->plugin = NULL;
    return APR_SUCCESS;
}

static const char *check_plugin(apr_pool_t *p, const char *path,
                                const char *symbol, WebSocketPlugin *wsp)
{
    if (wsp == NULL) {
        return "the init function returned NULL";
    }
    if (wsp->version != WEBSOCKET_PLUGIN_VERSION_0
        && wsp->version != WEBSOCKET_PLUGIN_VERSION_1) {
        return apr_psprintf(p, "unsupported plugin version %u (expected %d "
                            "or %d)", wsp->version,
                            WEBSOCKET_PLUGIN_VERSION_0,
                            WEBSOCKET_PLUGIN_VERSION_1);
    }
    /* the version 0 members at least (40 bytes on LP64); the v1 ones are
     * read only where the size covers them (WS_PLUGIN_V1), and a larger
     * size is a newer plugin with members we do not know */
    if (wsp->size < WS_PLUGIN_V0_SIZE) {
        return apr_psprintf(p, "plugin size %u is smaller than %lu",
                            wsp->size, (unsigned long)WS_PLUGIN_V0_SIZE);
    }
    if (wsp->on_message == NULL) {
        return "the plugin has no on_message function";
    }
    return NULL;
}

const char *ws_plugin_load(cmd_parms *cmd, const char *path,
                           const char *symbol, const void *section,
                           ws_plugin_t **out)
{
    WS_OnLoad on_load;
    apr_pool_t *p = cmd->pool;
    apr_hash_t *registry = NULL;
    const char *full, *key, *why;
    apr_dso_handle_t *dso = NULL;
    apr_dso_handle_sym_t sym;
    ws_plugin_t *wp;
    WS_Init init;
    char err[256];
    apr_status_t rv;

    full = ap_server_root_relative(p, path);
    if (full == NULL) {
        return apr_psprintf(cmd->temp_pool, "%s: invalid plugin path '%s'",
                            cmd->cmd->name, path);
    }
    apr_pool_userdata_get((void **)&registry, REGISTRY_KEY, p);
    if (registry == NULL) {
        registry = apr_hash_make(p);
        apr_pool_userdata_setn(registry, REGISTRY_KEY, NULL, p);
    }
    key = apr_pstrcat(cmd->temp_pool, full, "\n", symbol, NULL);
    wp = apr_hash_get(registry, key, APR_HASH_KEY_STRING);
    if (wp != NULL) {
        *out = wp;
        return NULL;
    }

    rv = apr_dso_load(&dso, full, p);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(cmd->temp_pool, "%s: cannot load %s (init %s): %s",
                            cmd->cmd->name, full, symbol,
                            apr_dso_error(dso, err, sizeof(err)));
    }
    rv = apr_dso_sym(&sym, dso, symbol);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(cmd->temp_pool,
                            "%s: %s has no init function %s: %s",
                            cmd->cmd->name, full, symbol,
                            apr_dso_error(dso, err, sizeof(err)));
    }

    wp = apr_pcalloc(p, sizeof(*wp));
    wp->path = apr_pstrdup(p, full);
    wp->symbol = apr_pstrdup(p, symbol);
    init = (WS_Init)sym;
    wp->plugin = init();
    why = check_plugin(cmd->temp_pool, full, symbol, wp->plugin);
    if (why != NULL) {
        /* a plugin we refuse is not destroyed: it may be half-made */
        return apr_psprintf(cmd->temp_pool, "%s: plugin %s (init %s) "
                            "rejected: %s", cmd->cmd->name, full, symbol,
                            why);
    }
    apr_pool_cleanup_register(p, wp, plugin_cleanup,
                              apr_pool_cleanup_null);
    apr_hash_set(registry, apr_pstrdup(p, key), APR_HASH_KEY_STRING, wp);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, cmd->server,
                 WS_LOGNO(00001) "loaded plugin %s (init %s), API "
                 "version %u", full, symbol, wp->plugin->version);
    wp->section = section;
    ws_host_init(&wp->host, section);
    if (wp->plugin->version >= WEBSOCKET_PLUGIN_VERSION_1) {
        /* its connections may subscribe and publish, its threads too */
        ws_chan_mark_used();
    }
    on_load = WS_PLUGIN_V1(wp->plugin, on_load);
    if (on_load != NULL) {
        on_load(wp->plugin, &wp->host);
    }
    *out = wp;
    return NULL;
}

static apr_status_t child_exit(void *data)
{
    ws_plugin_t *wp = data;
    WS_OnChild on_child_exit;

    if (wp->plugin != NULL) {
        on_child_exit = WS_PLUGIN_V1(wp->plugin, on_child_exit);
        if (on_child_exit != NULL) {
            on_child_exit(wp->plugin);
        }
    }
    return APR_SUCCESS;
}

/* After the child's channels work (APR_HOOK_LAST): each v1 plugin may
 * start its threads; its on_child_exit is a pre-cleanup of pchild that
 * runs before the channels' own (registered earlier, run later). */
static void plugin_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_hash_t *registry = NULL;
    apr_hash_index_t *hi;

    apr_pool_userdata_get((void **)&registry, REGISTRY_KEY,
                          s->process->pconf);
    for (hi = registry ? apr_hash_first(pchild, registry) : NULL; hi;
         hi = apr_hash_next(hi)) {
        ws_plugin_t *wp = apr_hash_this_val(hi);
        WS_OnChild on_child_init;

        if (wp->plugin == NULL
            || wp->plugin->version < WEBSOCKET_PLUGIN_VERSION_1) {
            continue;
        }
        on_child_init = WS_PLUGIN_V1(wp->plugin, on_child_init);
        if (on_child_init != NULL) {
            on_child_init(wp->plugin);
        }
        if (WS_PLUGIN_V1(wp->plugin, on_child_exit) != NULL) {
            apr_pool_pre_cleanup_register(pchild, wp, child_exit);
        }
    }
}

void ws_plugin_register_hooks(apr_pool_t *p)
{
    ap_hook_child_init(plugin_child_init, NULL, NULL, APR_HOOK_LAST);
}
