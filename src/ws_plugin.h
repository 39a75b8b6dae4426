/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_plugin.h -- loading plugins (WebSocketHandler): one load per
 * DSO + init symbol per configuration generation, destroy on unload,
 * and the per-process callbacks of API v1 plugins.
 */
#ifndef WS_PLUGIN_H
#define WS_PLUGIN_H

#include "httpd.h"
#include "http_config.h"

#include "websocket_plugin.h"

/** A loaded plugin, shared by every location naming the same pair. */
typedef struct {
    const char *path;         /**< resolved against ServerRoot */
    const char *symbol;
    WebSocketPlugin *plugin;  /**< what the init function returned */
    const void *section;      /**< ws_dir_conf_t of the section that
                                   loaded it (the host's options) */
    WebSocketHost host;       /**< handed to a v1 plugin's on_load */
} ws_plugin_t;

/**
 * A v1 callback of @p p (WebSocketPlugin *), or NULL: read only when
 * the plugin says version 1 and its size covers the member.
 */
#define WS_PLUGIN_V1(p, member)                                            \
    ((p)->version >= WEBSOCKET_PLUGIN_VERSION_1                            \
             && WEBSOCKET_HAS_MEMBER(WebSocketPlugin, p, member)           \
         ? (p)->member                                                     \
         : NULL)

/**
 * Loads @p path (relative to ServerRoot unless absolute) and calls its
 * init function @p symbol, or returns the plugin already loaded for
 * that pair in this configuration generation.  A version 1 plugin makes
 * channels work (ws_chan_mark_used) and gets its on_load called.
 * @param section the ws_dir_conf_t of the section loading it
 * @param out the plugin
 * @return NULL, or an error message naming the path and symbol
 * @remark lives as long as cmd->pool (pconf): destroy() runs and the
 *         DSO is unloaded when the configuration is unloaded
 */
const char *ws_plugin_load(cmd_parms *cmd, const char *path,
                           const char *symbol, const void *section,
                           ws_plugin_t **out);

/** Registers the child_init hook that runs the plugins' on_child_init
 * (and, when the child stops, their on_child_exit). */
void ws_plugin_register_hooks(apr_pool_t *p);

#endif /* WS_PLUGIN_H */
