/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_config.c -- per-directory configuration: creation, the field-by-field
 * merge of nested sections, and the effective settings of a request.
 * The directives' parsers are in ws_directives.c.
 */
#include "httpd.h"
#include <stdlib.h>

#include "http_config.h"

#include "ws_config.h"

APLOG_USE_MODULE(websocket);

void *ws_config_create_dir(apr_pool_t *p, char *dir)
{
    ws_dir_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    conf->plugin = NULL;
    conf->max_message = -1;
    conf->max_queued = -1;
    conf->close_timeout = -1;
    conf->ping_interval = -1;
    conf->pong_timeout = -1;
    conf->idle_timeout = -1;
    conf->send_timeout = -1;
    conf->origin_check = WS_ORIGIN_UNSET;
    conf->trusted = NULL;
    conf->allow_reserved = -1;
    conf->driver = WS_DRIVER_UNSET;
    conf->deflate = -1;
    conf->deflate_window = -1;
    conf->deflate_memlevel = -1;
    conf->deflate_takeover = -1;
    conf->deflate_min_size = -1;
    conf->bridge_target = NULL;
    conf->bridge_buffer = -1;
    conf->bridge_connect_timeout = -1;
    conf->channels = NULL;
    conf->chan_publish = -1;
    conf->chan_history = -1;
    conf->chan_history_secs = -1;
    conf->slow_drop = -1;
    /* made here, not by the directive: the host of a plugin loaded in
     * this section reads it (ws_host.c), lines after the plugin's too */
    conf->plugin_options = apr_table_make(p, 2);
    return conf;
}

void *ws_config_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    const ws_dir_conf_t *base = basev, *add = addv;
    ws_dir_conf_t *conf = apr_palloc(p, sizeof(*conf));

    /* each field on its own: a nested section that sets only the size
     * keeps its parent's plugin (0.1.2 replaced the whole record) */
    conf->plugin = add->plugin ? add->plugin : base->plugin;
    conf->max_message = add->max_message != -1 ? add->max_message
                                                : base->max_message;
    conf->max_queued = add->max_queued != -1 ? add->max_queued
                                              : base->max_queued;
    conf->close_timeout = add->close_timeout != -1 ? add->close_timeout
                                                    : base->close_timeout;
    conf->ping_interval = add->ping_interval != -1 ? add->ping_interval
                                                    : base->ping_interval;
    conf->pong_timeout = add->pong_timeout != -1 ? add->pong_timeout
                                                  : base->pong_timeout;
    conf->idle_timeout = add->idle_timeout != -1 ? add->idle_timeout
                                                  : base->idle_timeout;
    conf->send_timeout = add->send_timeout != -1 ? add->send_timeout
                                                  : base->send_timeout;
    conf->origin_check = add->origin_check != WS_ORIGIN_UNSET
                             ? add->origin_check : base->origin_check;
    /* a section listing trusted origins replaces the parent's list */
    conf->trusted = add->trusted ? add->trusted : base->trusted;
    conf->allow_reserved = add->allow_reserved != -1 ? add->allow_reserved
                                                      : base->allow_reserved;
    conf->driver = add->driver != WS_DRIVER_UNSET ? add->driver
                                                  : base->driver;
#define MERGE(f) conf->f = add->f != -1 ? add->f : base->f
    MERGE(deflate);
    MERGE(deflate_window);
    MERGE(deflate_memlevel);
    MERGE(deflate_takeover);
    MERGE(deflate_min_size);
    MERGE(bridge_buffer);
    MERGE(bridge_connect_timeout);
    MERGE(chan_publish);
    MERGE(chan_history);
    MERGE(chan_history_secs);
    MERGE(slow_drop);
#undef MERGE
    conf->bridge_target = add->bridge_target ? add->bridge_target
                                             : base->bridge_target;
    /* a section naming channels replaces the parent's list */
    conf->channels = add->channels ? add->channels : base->channels;
    /* options: a section's value for a key replaces its parent's */
    if (apr_is_empty_table(add->plugin_options)) {
        conf->plugin_options = base->plugin_options;
    }
    else if (apr_is_empty_table(base->plugin_options)) {
        conf->plugin_options = add->plugin_options;
    }
    else {
        conf->plugin_options = apr_table_overlay(p, add->plugin_options,
                                                 base->plugin_options);
    }
    return conf;
}

ws_settings_t *ws_config_settings(request_rec *r)
{
    const ws_dir_conf_t *conf =
        ap_get_module_config(r->per_dir_config, &websocket_module);
    ws_settings_t *s = apr_palloc(r->pool, sizeof(*s));

    s->plugin = conf->plugin;
    s->max_message = conf->max_message != -1
                         ? (apr_uint64_t)conf->max_message
                         : WS_DEFAULT_MAX_MESSAGE;
    s->max_queued = conf->max_queued != -1 ? (apr_size_t)conf->max_queued
                                           : WS_DEFAULT_MAX_QUEUED;
    s->close_timeout = conf->close_timeout != -1 ? conf->close_timeout
                                                 : WS_DEFAULT_CLOSE_TIMEOUT;
    s->ping_interval = conf->ping_interval != -1 ? conf->ping_interval
                                                 : WS_DEFAULT_PING_INTERVAL;
    s->pong_timeout = conf->pong_timeout != -1 ? conf->pong_timeout
                                               : WS_DEFAULT_PONG_TIMEOUT;
    s->idle_timeout = conf->idle_timeout != -1 ? conf->idle_timeout : 0;
    /* by default writes wait as long as any other write of httpd */
    s->send_timeout = conf->send_timeout != -1 ? conf->send_timeout
                                               : r->server->timeout;
    s->origin_check = conf->origin_check != WS_ORIGIN_UNSET
                          ? (ws_origin_check_e)conf->origin_check
                          : WS_ORIGIN_SAME;
    s->trusted = conf->trusted;
    s->allow_reserved = conf->allow_reserved == 1;
    /* Auto: asynchronous where the MPM can wait for I/O (event MPM of
     * httpd 2.4.63 and later, HTTP/1.1), blocking elsewhere */
    s->driver = conf->driver != WS_DRIVER_UNSET ? (ws_driver_e)conf->driver
                                                : WS_DRIVER_AUTO;
    s->deflate = conf->deflate != 0;
    s->deflate_window = conf->deflate_window != -1
                            ? conf->deflate_window
                            : WS_DEFAULT_DEFLATE_WINDOW;
    s->deflate_memlevel = conf->deflate_memlevel != -1
                              ? conf->deflate_memlevel
                              : WS_DEFAULT_DEFLATE_MEMLEVEL;
    s->deflate_takeover = conf->deflate_takeover != 0;
    s->deflate_min_size = conf->deflate_min_size != -1
                              ? (apr_size_t)conf->deflate_min_size : 0;
    s->bridge_target = conf->bridge_target;
    s->bridge_buffer = conf->bridge_buffer != -1
                           ? (apr_size_t)conf->bridge_buffer
                           : WS_DEFAULT_BRIDGE_BUFFER;
    s->bridge_connect_timeout = conf->bridge_connect_timeout != -1
                                    ? conf->bridge_connect_timeout
                                    : WS_DEFAULT_BRIDGE_CONNECT_TIMEOUT;
    s->channels = conf->channels;
    s->chan_publish = conf->chan_publish == 1;
    s->chan_history = conf->chan_history != -1
                          ? (apr_uint32_t)conf->chan_history
                          : WS_DEFAULT_CHAN_HISTORY;
    s->chan_history_secs = conf->chan_history_secs != -1
                               ? (apr_uint32_t)conf->chan_history_secs
                               : WS_DEFAULT_CHAN_HISTORY_SECS;
    s->slow_drop = conf->slow_drop == 1;
    s->plugin_options = conf->plugin_options;
    return s;
}
