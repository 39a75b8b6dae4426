/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_config.h -- per-directory configuration: the directives of
 * mod_websocket and their field-by-field merge.
 */
#ifndef WS_CONFIG_H
#define WS_CONFIG_H

#include "httpd.h"
#include "http_config.h"
#include "ap_expr.h"

#include "ws_plugin.h"

#define WS_HANDLER_NAME "websocket-handler"
/** The handler of the WebSocket to TCP bridge (ws_bridge.c). */
#define WS_BRIDGE_HANDLER_NAME "websocket-bridge"
/** Default WebSocketBridgeBuffer: bytes pending per direction. */
#define WS_DEFAULT_BRIDGE_BUFFER (64 * 1024)
/** Default WebSocketBridgeConnectTimeout. */
#define WS_DEFAULT_BRIDGE_CONNECT_TIMEOUT apr_time_from_sec(5)

/** Default WebSocketMaxMessageSize: 32 MiB, as in 0.1.2. */
#define WS_DEFAULT_MAX_MESSAGE (32 * 1024 * 1024)
/** Default WebSocketMaxQueuedBytes: what plugin threads may queue. */
#define WS_DEFAULT_MAX_QUEUED (16 * 1024 * 1024)
/** Default WebSocketCloseTimeout: wait for the client's close reply. */
#define WS_DEFAULT_CLOSE_TIMEOUT apr_time_from_sec(5)
/** Default WebSocketPingInterval: a ping after this much silence. */
#define WS_DEFAULT_PING_INTERVAL apr_time_from_sec(30)
/** Default WebSocketPongTimeout: how long a client may take to answer. */
#define WS_DEFAULT_PONG_TIMEOUT apr_time_from_sec(30)
/** permessage-deflate defaults: zlib's state of both directions stays
 * under 64 KiB per connection (see README, "permessage-deflate"). */
#define WS_DEFAULT_DEFLATE_WINDOW 12
#define WS_DEFAULT_DEFLATE_MEMLEVEL 5
/** Default WebSocketChannelHistory: 16 messages, 600 seconds. */
#define WS_DEFAULT_CHAN_HISTORY 16
#define WS_DEFAULT_CHAN_HISTORY_SECS 600
/** The handler of publisher locations. */
#define WS_PUBLISHER_NAME "websocket-publisher"

typedef enum {
    WS_DRIVER_UNSET = -1,
    WS_DRIVER_AUTO = 0,   /**< async where possible, else blocking */
    WS_DRIVER_BLOCKING,   /**< a thread per connection, any MPM */
    WS_DRIVER_ASYNC       /**< back to the MPM between events */
} ws_driver_e;

typedef enum {
    WS_ORIGIN_UNSET = -1,
    WS_ORIGIN_SAME = 0,
    WS_ORIGIN_TRUSTED,
    WS_ORIGIN_OFF
} ws_origin_check_e;

/** Per-directory configuration; "unset" values merge from the parent. */
typedef struct {
    ws_plugin_t *plugin;          /**< NULL = unset */
    apr_int64_t max_message;      /**< -1 = unset */
    apr_int64_t max_queued;       /**< -1 = unset */
    apr_interval_time_t close_timeout; /**< -1 = unset */
    apr_interval_time_t ping_interval; /**< -1 = unset, 0 = off */
    apr_interval_time_t pong_timeout;  /**< -1 = unset */
    apr_interval_time_t idle_timeout;  /**< -1 = unset, 0 = off */
    apr_interval_time_t send_timeout;  /**< -1 = unset */
    int origin_check;             /**< ws_origin_check_e */
    apr_array_header_t *trusted;  /**< const char *; NULL = unset */
    int allow_reserved;           /**< -1 = unset */
    int deflate;                  /**< -1 = unset */
    int deflate_window;           /**< -1 = unset */
    int deflate_memlevel;         /**< -1 = unset */
    int deflate_takeover;         /**< -1 = unset */
    apr_int64_t deflate_min_size; /**< -1 = unset */
    int driver;                   /**< ws_driver_e */
    ap_expr_info_t *bridge_target; /**< WebSocketBridge; NULL = unset */
    apr_int64_t bridge_buffer;    /**< -1 = unset */
    apr_interval_time_t bridge_connect_timeout; /**< -1 = unset */
    apr_array_header_t *channels; /**< ap_expr_info_t *; NULL = unset */
    int chan_publish;             /**< -1 = unset */
    apr_int64_t chan_history;     /**< messages; -1 = unset */
    apr_int64_t chan_history_secs; /**< -1 = unset */
    int slow_drop;                /**< -1 = unset */
    apr_table_t *plugin_options;  /**< WebSocketPluginOption; empty = unset */
} ws_dir_conf_t;

/** The effective values of a location, with defaults applied. */
typedef struct {
    ws_plugin_t *plugin;
    apr_uint64_t max_message;
    apr_size_t max_queued;
    apr_interval_time_t close_timeout;
    apr_interval_time_t ping_interval; /**< 0: no pings */
    apr_interval_time_t pong_timeout;
    apr_interval_time_t idle_timeout;  /**< 0: none */
    apr_interval_time_t send_timeout;
    ws_origin_check_e origin_check;
    const apr_array_header_t *trusted;
    int allow_reserved;
    ws_driver_e driver;
    int deflate;                  /**< offer permessage-deflate */
    int deflate_window;           /**< 9..15, both directions */
    int deflate_memlevel;         /**< 1..9 */
    int deflate_takeover;         /**< keep our context between messages */
    apr_size_t deflate_min_size;  /**< shorter messages go uncompressed */
    const ap_expr_info_t *bridge_target; /**< NULL: none configured */
    apr_size_t bridge_buffer;     /**< bytes pending per direction */
    apr_interval_time_t bridge_connect_timeout;
    const apr_array_header_t *channels; /**< ap_expr_info_t *, or NULL */
    int chan_publish;             /**< client messages are published */
    apr_uint32_t chan_history;    /**< messages kept per channel */
    apr_uint32_t chan_history_secs; /**< their age limit (0: none) */
    int slow_drop;                /**< WebSocketSlowSubscriber drop */
    const apr_table_t *plugin_options; /**< WebSocketPluginOption */
} ws_settings_t;

void *ws_config_create_dir(apr_pool_t *p, char *dir);
void *ws_config_merge_dir(apr_pool_t *p, void *basev, void *addv);

/**
 * The effective settings for @p r.
 * @remark allocated from r->pool
 */
ws_settings_t *ws_config_settings(request_rec *r);

#endif /* WS_CONFIG_H */
