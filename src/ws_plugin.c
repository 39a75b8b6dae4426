/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_plugin.c -- loading plugins named by WebSocketHandler.
 */
#include "httpd.h"
#include "apr_dso.h"
#include "apr_hash.h"
#include "apr_strings.h"

#include "http_log.h"

#include "ws_log.h"
#include "ws_plugin.h"

APLOG_USE_MODULE(websocket);

/* pconf userdata key of the registry of plugins loaded in this
 * configuration generation: pconf is cleared between generations, so
 * the registry (and every DSO in it) lives exactly one generation. */
#define REGISTRY_KEY "mod_websocket-plugins"

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
    if (wsp->version != WEBSOCKET_PLUGIN_VERSION_0) {
        return apr_psprintf(p, "unsupported plugin version %u (expected %d)",
                            wsp->version, WEBSOCKET_PLUGIN_VERSION_0);
    }
    /* a larger size is a newer plugin with members we do not know */
    if (wsp->size < sizeof(WebSocketPlugin)) {
        return apr_psprintf(p, "plugin size %u is smaller than %lu",
                            wsp->size,
                            (unsigned long)sizeof(WebSocketPlugin));
    }
    if (wsp->on_message == NULL) {
        return "the plugin has no on_message function";
    }
    return NULL;
}

const char *ws_plugin_load(cmd_parms *cmd, const char *path,
                           const char *symbol, ws_plugin_t **out)
{
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
                 WS_LOGNO(00001) "loaded plugin %s (init %s)", full, symbol);
    *out = wp;
    return NULL;
}
