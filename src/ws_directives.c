/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_directives.c -- the directives of mod_websocket: their parsers and
 * the command table, with the accepted forms in every error message.
 */
#include "httpd.h"
#include <errno.h>
#include <stdlib.h>

#include "apr_lib.h"
#include "apr_strings.h"

#include "http_log.h"

#include "ap_expr.h"

#include "ws_chan.h"
#include "ws_chanstore.h"
#include "ws_config.h"
#include "ws_directives.h"
#include "ws_log.h"

APLOG_USE_MODULE(websocket);

static const char *set_handler(cmd_parms *cmd, void *dconf, const char *path,
                               const char *symbol)
{
    ws_dir_conf_t *conf = dconf;

    /* loading a shared library is not something an .htaccess author may
     * do; 0.1.2 allowed it under AllowOverride AuthConfig */
    if (ap_check_cmd_context(cmd, NOT_IN_HTACCESS) != NULL) {
        return apr_psprintf(cmd->pool, "%s is not allowed in .htaccess "
                            "files (it loads a shared library); put it in "
                            "a <Location> or <Directory> of the server "
                            "configuration", cmd->cmd->name);
    }
    return ws_plugin_load(cmd, path, symbol, conf, &conf->plugin);
}

static const char *set_plugin_option(cmd_parms *cmd, void *dconf,
                                     const char *key, const char *value)
{
    ws_dir_conf_t *conf = dconf;

    if (*key == '\0') {
        return apr_psprintf(cmd->pool, "%s: the key is empty; expected "
                            "%s <key> <value>", cmd->cmd->name,
                            cmd->cmd->name);
    }
    /* repeated in one section: the last line wins */
    apr_table_set(conf->plugin_options, key, value);
    return NULL;
}

/* a positive decimal number of bytes, or NULL */
static const char *parse_bytes(cmd_parms *cmd, const char *arg,
                               apr_int64_t *out)
{
    char *end = NULL;
    apr_int64_t v;

    errno = 0;
    v = apr_strtoi64(arg, &end, 10);
    if (!apr_isdigit(*arg) || *end != '\0' || errno != 0 || v <= 0) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a valid size; "
                            "expected a number of bytes greater than 0 "
                            "(e.g. %s 33554432)", cmd->cmd->name, arg,
                            cmd->cmd->name);
    }
    *out = v;
    return NULL;
}

static const char *set_max_message(cmd_parms *cmd, void *dconf,
                                   const char *arg)
{
    ws_dir_conf_t *conf = dconf;

    return parse_bytes(cmd, arg, &conf->max_message);
}

static const char *set_max_message_old(cmd_parms *cmd, void *dconf,
                                       const char *arg)
{
    /* the one place we log from a directive: a deprecation is not an
     * error, and the administrator should still hear of it */
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cmd->server,
                 WS_LOGNO(00002) "%s:%d: MaxMessageSize is deprecated, "
                 "use WebSocketMaxMessageSize",
                 cmd->directive->filename, cmd->directive->line_num);
    return set_max_message(cmd, dconf, arg);
}

static const char *set_max_queued(cmd_parms *cmd, void *dconf,
                                  const char *arg)
{
    ws_dir_conf_t *conf = dconf;

    return parse_bytes(cmd, arg, &conf->max_queued);
}

/* A duration in seconds (or with a unit: 500ms, 2min); 0 only where
 * @p zero_ok (it then means "off"). */
static const char *parse_duration(cmd_parms *cmd, const char *arg,
                                  int zero_ok, apr_interval_time_t *out)
{
    apr_interval_time_t t;

    if (ap_timeout_parameter_parse(arg, &t, "s") != APR_SUCCESS || t < 0
        || (t == 0 && !zero_ok)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a valid duration; "
                            "expected a number of seconds%s, or of "
                            "milliseconds with 'ms' (e.g. 30 or 500ms)",
                            cmd->cmd->name, arg,
                            zero_ok ? " (0 = off)" : " greater than 0");
    }
    *out = t;
    return NULL;
}

static const char *set_duration(cmd_parms *cmd, void *dconf, const char *arg)
{
    ws_dir_conf_t *conf = dconf;
    /* cmd_data names the field; "off" is accepted where 0 is */
    apr_interval_time_t *field =
        (apr_interval_time_t *)((char *)conf + (apr_size_t)cmd->info);
    int zero_ok = field == &conf->ping_interval
                  || field == &conf->idle_timeout;

    if (zero_ok && !strcasecmp(arg, "off")) {
        *field = 0;
        return NULL;
    }
    return parse_duration(cmd, arg, zero_ok, field);
}

/* One of three keywords, without regard to case; the error names all. */
static const char *set_keyword(cmd_parms *cmd, const char *arg,
                               const char *const names[3],
                               const int values[3], int *out)
{
    int i;

    for (i = 0; i < 3; i++) {
        if (!strcasecmp(arg, names[i])) {
            *out = values[i];
            return NULL;
        }
    }
    return apr_psprintf(cmd->pool, "%s: '%s' is not one of %s, %s or %s",
                        cmd->cmd->name, arg, names[0], names[1], names[2]);
}

static const char *set_driver(cmd_parms *cmd, void *dconf, const char *arg)
{
    static const char *const names[3] = {"Auto", "Blocking", "Async"};
    static const int values[3] = {WS_DRIVER_AUTO, WS_DRIVER_BLOCKING,
                                  WS_DRIVER_ASYNC};

    return set_keyword(cmd, arg, names, values,
                       &((ws_dir_conf_t *)dconf)->driver);
}

static const char *set_origin_check(cmd_parms *cmd, void *dconf,
                                    const char *arg)
{
    static const char *const names[3] = {"Same", "Trusted", "Off"};
    static const int values[3] = {WS_ORIGIN_SAME, WS_ORIGIN_TRUSTED,
                                  WS_ORIGIN_OFF};

    return set_keyword(cmd, arg, names, values,
                       &((ws_dir_conf_t *)dconf)->origin_check);
}

/* scheme "://" host [":" port], nothing after; or the opaque "null" */
static int origin_syntax_ok(const char *o)
{
    const char *p = o, *host;

    if (!strcmp(o, "null")) {
        return 1;
    }
    if (!apr_isalpha(*p)) {
        return 0;
    }
    while (apr_isalnum(*p) || *p == '+' || *p == '-' || *p == '.') {
        p++;
    }
    if (strncmp(p, "://", 3) != 0) {
        return 0;
    }
    host = p + 3;
    if (*host == '\0' || strpbrk(host, "/?#@ \t") != NULL) {
        return 0;
    }
    return 1;
}

static const char *add_trusted_origin(cmd_parms *cmd, void *dconf,
                                      const char *arg)
{
    ws_dir_conf_t *conf = dconf;

    if (!origin_syntax_ok(arg)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not an origin; expected "
                            "scheme://host[:port] (e.g. "
                            "https://www.example.com)", cmd->cmd->name, arg);
    }
    if (conf->trusted == NULL) {
        conf->trusted = apr_array_make(cmd->pool, 4, sizeof(const char *));
    }
    APR_ARRAY_PUSH(conf->trusted, const char *) = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

static const char *set_allow_reserved(cmd_parms *cmd, void *dconf, int on)
{
    ws_dir_conf_t *conf = dconf;

    conf->allow_reserved = on;
    return NULL;
}

static const char *set_deflate(cmd_parms *cmd, void *dconf, int on)
{
    ((ws_dir_conf_t *)dconf)->deflate = on;
    return NULL;
}

static const char *set_deflate_takeover(cmd_parms *cmd, void *dconf, int on)
{
    ((ws_dir_conf_t *)dconf)->deflate_takeover = on;
    return NULL;
}

/* a decimal integer in [lo, hi], or an error naming the directive */
static const char *parse_int_range(cmd_parms *cmd, const char *arg, int lo,
                                   int hi, int *out)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(arg, &end, 10);
    if (!apr_isdigit(*arg) || *end != '\0' || errno != 0 || v < lo
        || v > hi) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not valid; expected a "
                            "number from %d to %d", cmd->cmd->name, arg, lo,
                            hi);
    }
    *out = (int)v;
    return NULL;
}

static const char *set_deflate_window(cmd_parms *cmd, void *dconf,
                                      const char *arg)
{
    /* 9: zlib cannot compress raw deflate with a 256-byte window */
    return parse_int_range(cmd, arg, 9, 15,
                           &((ws_dir_conf_t *)dconf)->deflate_window);
}

static const char *set_deflate_memlevel(cmd_parms *cmd, void *dconf,
                                        const char *arg)
{
    return parse_int_range(cmd, arg, 1, 9,
                           &((ws_dir_conf_t *)dconf)->deflate_memlevel);
}

static const char *set_deflate_min_size(cmd_parms *cmd, void *dconf,
                                        const char *arg)
{
    ws_dir_conf_t *conf = dconf;
    char *end = NULL;
    apr_int64_t v;

    errno = 0;
    v = apr_strtoi64(arg, &end, 10);
    if (!apr_isdigit(*arg) || *end != '\0' || errno != 0 || v < 0) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a valid size; "
                            "expected a number of bytes, 0 or more",
                            cmd->cmd->name, arg);
    }
    conf->deflate_min_size = v;
    return NULL;
}

static const char *add_channel(cmd_parms *cmd, void *dconf,
                               const char *arg)
{
    ws_dir_conf_t *conf = dconf;
    const char *err = NULL;
    ap_expr_info_t *expr;

    if (conf->channels == NULL) {
        conf->channels = apr_array_make(cmd->pool, 1,
                                        sizeof(ap_expr_info_t *));
    }
    if (conf->channels->nelts >= WS_CHAN_MAX_PER_CONN) {
        return apr_psprintf(cmd->pool, "%s: more than %d channels in one "
                            "section", cmd->cmd->name, WS_CHAN_MAX_PER_CONN);
    }
    expr = ap_expr_parse_cmd(cmd, arg, AP_EXPR_FLAG_STRING_RESULT, &err,
                             NULL);
    if (err != NULL) {
        return apr_psprintf(cmd->pool, "%s: cannot parse the string "
                            "expression '%s': %s", cmd->cmd->name, arg, err);
    }
    APR_ARRAY_PUSH(conf->channels, ap_expr_info_t *) = expr;
    ws_chan_mark_used();
    return NULL;
}

static const char *set_chan_publish(cmd_parms *cmd, void *dconf, int on)
{
    ((ws_dir_conf_t *)dconf)->chan_publish = on;
    return NULL;
}

/* a decimal number from 0 to 2^32-1, or NULL */
static int parse_u32(const char *arg, apr_int64_t *out)
{
    char *end = NULL;
    apr_int64_t v;

    errno = 0;
    v = apr_strtoi64(arg, &end, 10);
    if (!apr_isdigit(*arg) || *end != '\0' || errno != 0 || v < 0
        || v > 0xffffffffLL) {
        return 0;
    }
    *out = v;
    return 1;
}

static const char *set_chan_history(cmd_parms *cmd, void *dconf,
                                    const char *msgs, const char *secs)
{
    ws_dir_conf_t *conf = dconf;

    if (!parse_u32(msgs, &conf->chan_history)
        || (secs != NULL && !parse_u32(secs, &conf->chan_history_secs))) {
        return apr_psprintf(cmd->pool, "%s: '%s%s%s' is not valid; expected "
                            "a number of messages and optionally of "
                            "seconds, 0 or more (e.g. %s 16 600)",
                            cmd->cmd->name, msgs, secs ? " " : "",
                            secs ? secs : "", cmd->cmd->name);
    }
    if (secs == NULL) {
        conf->chan_history_secs = WS_DEFAULT_CHAN_HISTORY_SECS;
    }
    return NULL;
}

static const char *set_slow(cmd_parms *cmd, void *dconf, const char *arg)
{
    ws_dir_conf_t *conf = dconf;

    if (!strcasecmp(arg, "close")) {
        conf->slow_drop = 0;
    }
    else if (!strcasecmp(arg, "drop")) {
        conf->slow_drop = 1;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: '%s' is not one of close or "
                            "drop", cmd->cmd->name, arg);
    }
    return NULL;
}

static const char *set_chan_memory(cmd_parms *cmd, void *dconf,
                                   const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_int64_t v = 0;

    if (err != NULL) {
        return err;
    }
    err = parse_bytes(cmd, arg, &v);
    if (err == NULL && (v < WS_CHAN_STORE_MIN_SIZE
                        || (apr_uint64_t)v > APR_SIZE_MAX / 2)) {
        err = apr_psprintf(cmd->pool, "%s: '%s' is not a valid size; "
                           "expected a number of bytes from %d on",
                           cmd->cmd->name, arg, WS_CHAN_STORE_MIN_SIZE);
    }
    if (err == NULL) {
        ws_chan_set_memory((apr_size_t)v);
    }
    return err;
}

/* An ap_expr string: the target may come from the request. */
static const char *set_bridge(cmd_parms *cmd, void *dconf, const char *arg)
{
    ws_dir_conf_t *conf = dconf;
    const char *err = NULL;

    /* the server's administrator chooses where httpd connects to */
    if (ap_check_cmd_context(cmd, NOT_IN_HTACCESS) != NULL) {
        return apr_psprintf(cmd->pool, "%s is not allowed in .htaccess "
                            "files", cmd->cmd->name);
    }
    conf->bridge_target = ap_expr_parse_cmd(cmd, arg,
                                            AP_EXPR_FLAG_STRING_RESULT,
                                            &err, NULL);
    if (err != NULL) {
        return apr_psprintf(cmd->pool, "%s: cannot parse '%s': %s",
                            cmd->cmd->name, arg, err);
    }
    return NULL;
}

static const char *set_bridge_buffer(cmd_parms *cmd, void *dconf,
                                     const char *arg)
{
    return parse_bytes(cmd, arg, &((ws_dir_conf_t *)dconf)->bridge_buffer);
}

/* OR_AUTHCFG: <Location>, <Directory>, <Files> and .htaccess under
 * "AllowOverride AuthConfig", where 0.1.2 allowed them */
const command_rec ws_config_cmds[] = {
    AP_INIT_TAKE2("WebSocketHandler", set_handler, NULL, OR_AUTHCFG,
                  "plugin library (relative to ServerRoot) and the name "
                  "of its init function"),
    AP_INIT_TAKE2("WebSocketPluginOption", set_plugin_option, NULL,
                  ACCESS_CONF, "a key and a value the location's plugin "
                  "reads (API v1 option()); repeatable"),
    AP_INIT_TAKE1("WebSocketMaxMessageSize", set_max_message, NULL,
                  OR_AUTHCFG, "largest message or control frame payload "
                  "accepted from a client, in bytes (default 33554432)"),
    AP_INIT_TAKE1("MaxMessageSize", set_max_message_old, NULL, OR_AUTHCFG,
                  "deprecated name of WebSocketMaxMessageSize"),
    AP_INIT_TAKE1("WebSocketMaxQueuedBytes", set_max_queued, NULL,
                  OR_AUTHCFG, "bytes plugin threads may queue for one "
                  "connection before send() waits (default 16777216)"),
    AP_INIT_TAKE1("WebSocketCloseTimeout", set_duration,
                  (void *)APR_OFFSETOF(ws_dir_conf_t, close_timeout),
                  OR_AUTHCFG, "how long to wait for the client's close "
                  "frame after sending ours, in seconds (default 5)"),
    AP_INIT_TAKE1("WebSocketPingInterval", set_duration,
                  (void *)APR_OFFSETOF(ws_dir_conf_t, ping_interval),
                  OR_AUTHCFG, "send a ping after this many seconds "
                  "without traffic from the client; 0 or Off: never "
                  "(default 30)"),
    AP_INIT_TAKE1("WebSocketPongTimeout", set_duration,
                  (void *)APR_OFFSETOF(ws_dir_conf_t, pong_timeout),
                  OR_AUTHCFG, "close the connection (1011) when the client "
                  "sends nothing this many seconds after a ping "
                  "(default 30)"),
    AP_INIT_TAKE1("WebSocketIdleTimeout", set_duration,
                  (void *)APR_OFFSETOF(ws_dir_conf_t, idle_timeout),
                  OR_AUTHCFG, "close the connection (1001) after this many "
                  "seconds without a message in either direction; 0 or "
                  "Off: never (default Off)"),
    AP_INIT_TAKE1("WebSocketSendTimeout", set_duration,
                  (void *)APR_OFFSETOF(ws_dir_conf_t, send_timeout),
                  OR_AUTHCFG, "how long a write to a client that does not "
                  "read may block, and a plugin thread wait for queue "
                  "room, in seconds (default: httpd's Timeout)"),
    AP_INIT_TAKE1("WebSocketDriver", set_driver, NULL, OR_AUTHCFG,
                  "Auto (default), Blocking or Async: whether an open "
                  "WebSocket holds a worker thread (Blocking) or goes back "
                  "to the MPM between events (Async, or Auto where "
                  "possible: event MPM, httpd 2.4.63 or later, HTTP/1.1)"),
    AP_INIT_TAKE1("WebSocketOriginCheck", set_origin_check, NULL, OR_AUTHCFG,
                  "Same (default), Trusted or Off: which Origin a browser "
                  "may connect from"),
    AP_INIT_ITERATE("WebSocketTrustedOrigin", add_trusted_origin, NULL,
                    OR_AUTHCFG, "origins (scheme://host[:port]) accepted "
                    "by WebSocketOriginCheck Trusted"),
    AP_INIT_FLAG("WebSocketAllowReservedStatusCodes", set_allow_reserved,
                 NULL, OR_AUTHCFG, "On to accept reserved close codes "
                 "(1004, 1014, 1016-2999) from clients (default Off)"),
    AP_INIT_FLAG("WebSocketDeflate", set_deflate, NULL, OR_AUTHCFG,
                 "On (default) to accept permessage-deflate (RFC 7692) "
                 "when a client offers it"),
    AP_INIT_TAKE1("WebSocketDeflateWindowBits", set_deflate_window, NULL,
                  OR_AUTHCFG, "LZ77 window of permessage-deflate, 9 to 15 "
                  "(2^n bytes), for our compressor and, when the client "
                  "allows it, for its own (default 12)"),
    AP_INIT_TAKE1("WebSocketDeflateMemLevel", set_deflate_memlevel, NULL,
                  OR_AUTHCFG, "zlib memLevel of the compressor, 1 to 9 "
                  "(default 5)"),
    AP_INIT_FLAG("WebSocketDeflateContextTakeover", set_deflate_takeover,
                 NULL, OR_AUTHCFG, "On (default) to keep the compressor's "
                 "context from one message to the next; Off answers "
                 "server_no_context_takeover and frees it after each "
                 "message"),
    AP_INIT_TAKE1("WebSocketDeflateMinSize", set_deflate_min_size, NULL,
                  OR_AUTHCFG, "messages shorter than this many bytes are "
                  "sent uncompressed (default 0: all are compressed)"),
    AP_INIT_TAKE1("WebSocketBridge", set_bridge, NULL, OR_AUTHCFG,
                  "backend of SetHandler websocket-bridge: tcp://HOST:PORT "
                  "or unix:/path/to/socket, an ap_expr string (e.g. "
                  "tcp://127.0.0.1:%{env:PORT})"),
    AP_INIT_TAKE1("WebSocketBridgeBuffer", set_bridge_buffer, NULL,
                  OR_AUTHCFG, "bytes a bridged connection keeps pending "
                  "per direction before it stops reading the other side "
                  "(default 65536)"),
    AP_INIT_TAKE1("WebSocketBridgeConnectTimeout", set_duration,
                  (void *)APR_OFFSETOF(ws_dir_conf_t, bridge_connect_timeout),
                  OR_AUTHCFG, "how long to wait for the bridge's backend "
                  "to accept the connection, in seconds (default 5)"),
    AP_INIT_TAKE1("WebSocketChannel", add_channel, NULL, ACCESS_CONF,
                  "string expression (ap_expr) naming a channel the "
                  "connections of this location subscribe to (a "
                  "websocket-handler location) or publish to (a "
                  "websocket-publisher location); repeatable, up to 255"),
    AP_INIT_FLAG("WebSocketChannelPublish", set_chan_publish, NULL,
                 ACCESS_CONF, "On: each message a subscriber's client sends "
                 "is published to its channels; Off (default): such "
                 "messages are not published"),
    AP_INIT_TAKE12("WebSocketChannelHistory", set_chan_history, NULL,
                   ACCESS_CONF, "messages each channel keeps for resuming "
                   "subscribers, and their age limit in seconds (0: none); "
                   "0 messages: no history (default 16 600)"),
    AP_INIT_TAKE1("WebSocketSlowSubscriber", set_slow, NULL, ACCESS_CONF,
                  "close (default: close code 1008, reason \"slow\") or "
                  "drop (skip messages): a subscriber whose pending output "
                  "exceeds WebSocketMaxQueuedBytes"),
    AP_INIT_TAKE1("WebSocketChannelMemory", set_chan_memory, NULL,
                  RSRC_CONF, "bytes of shared memory for all channels, "
                  "their history and the log, server-wide (default "
                  "33554432)"),
    {NULL, {NULL}, NULL, 0, RAW_ARGS, NULL}
};
