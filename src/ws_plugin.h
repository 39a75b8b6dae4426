/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_plugin.h -- loading plugins (WebSocketHandler): one load per
 * DSO + init symbol per configuration generation, destroy on unload.
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
} ws_plugin_t;

/**
 * Loads @p path (relative to ServerRoot unless absolute) and calls its
 * init function @p symbol, or returns the plugin already loaded for
 * that pair in this configuration generation.
 * @param out the plugin
 * @return NULL, or an error message naming the path and symbol
 * @remark lives as long as cmd->pool (pconf): destroy() runs and the
 *         DSO is unloaded when the configuration is unloaded
 */
const char *ws_plugin_load(cmd_parms *cmd, const char *path,
                           const char *symbol, ws_plugin_t **out);

#endif /* WS_PLUGIN_H */
