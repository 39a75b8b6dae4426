/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * mod_echofloor.c -- httpd's own floor for the echo benchmark: a
 * process_connection hook that echoes raw bytes on the listening ports
 * it is given, with no HTTP, no filters and no WebSocket framing.
 * bench/run loads it beside mod_websocket to show how fast a message can
 * go through httpd's connection handling at all, so that the WebSocket
 * figures can be read against both the raw epoll server and this floor.
 * Not part of the module.
 *
 *   EchoFloor PORT blocking   one worker per connection, blocking reads
 *   EchoFloor PORT2 async     one pass per readable event: read what is
 *                             there, write it back, then return the
 *                             connection to the event MPM to wait for
 *                             input (CONN_STATE_ASYNC_WAITIO, httpd
 *                             2.4.63 and later)
 *
 * Writes assume the socket takes the echo at once (16-byte messages, a
 * few in flight): a benchmark tool, not a server.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_log.h"
#include "ap_mpm.h"

#include "apr_network_io.h"
#include "apr_strings.h"

module AP_MODULE_DECLARE_DATA echofloor_module;

/* the port of each mode, 0 when it is not configured */
typedef struct {
    apr_port_t blocking;
    apr_port_t async;
} floor_conf_t;

static void *floor_create(apr_pool_t *p, server_rec *s)
{
    (void)s;
    return apr_pcalloc(p, sizeof(floor_conf_t));
}

static const char *floor_cmd(cmd_parms *cmd, void *dummy, const char *port,
                             const char *mode)
{
    floor_conf_t *fc = ap_get_module_config(cmd->server->module_config,
                                            &echofloor_module);
    int n = atoi(port);

    (void)dummy;
    if (n <= 0 || n > 65535) {
        return "EchoFloor: the port is a number from 1 to 65535";
    }
    if (strcasecmp(mode, "blocking") == 0) {
        fc->blocking = (apr_port_t)n;
    }
    else if (strcasecmp(mode, "async") == 0) {
#ifdef AP_MPMQ_CAN_WAITIO
        fc->async = (apr_port_t)n;
#else
        /* no CONN_STATE_ASYNC_WAITIO before httpd 2.4.63: the port is
         * left to HTTP and bench/run reports the floor as n/a */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cmd->server,
                     "EchoFloor async needs httpd 2.4.63 or later");
#endif
    }
    else {
        return "EchoFloor: the mode is blocking or async";
    }
    return NULL;
}

static int echo_back(apr_socket_t *sock, const char *buf, apr_size_t n)
{
    while (n > 0) {
        apr_size_t w = n;
        apr_status_t rv = apr_socket_send(sock, buf, &w);

        if (rv != APR_SUCCESS && !(APR_STATUS_IS_EAGAIN(rv) && w > 0)) {
            return 0;
        }
        buf += w;
        n -= w;
    }
    return 1;
}

static int floor_process_connection(conn_rec *c)
{
    floor_conf_t *fc = ap_get_module_config(c->base_server->module_config,
                                            &echofloor_module);
    apr_socket_t *sock = ap_get_conn_socket(c);
    char buf[16384];

    if (fc->blocking != 0 && c->local_addr->port == fc->blocking) {
        apr_socket_timeout_set(sock, apr_time_from_sec(60));
        for (;;) {
            apr_size_t n = sizeof(buf);

            if (apr_socket_recv(sock, buf, &n) != APR_SUCCESS
                || !echo_back(sock, buf, n)) {
                break;
            }
        }
    }
#ifdef AP_MPMQ_CAN_WAITIO
    else if (fc->async != 0 && c->local_addr->port == fc->async) {
        apr_socket_timeout_set(sock, 0);
        for (;;) {
            apr_size_t n = sizeof(buf);
            apr_status_t rv = apr_socket_recv(sock, buf, &n);

            if (APR_STATUS_IS_EAGAIN(rv)) {
                c->cs->sense = CONN_SENSE_WANT_READ;
                c->cs->state = CONN_STATE_ASYNC_WAITIO;
                return OK;
            }
            if (rv != APR_SUCCESS || !echo_back(sock, buf, n)) {
                break;
            }
        }
    }
#endif
    else {
        return DECLINED;
    }
    c->keepalive = AP_CONN_CLOSE;
    if (c->cs != NULL) { /* NULL on prefork */
        c->cs->state = CONN_STATE_LINGER;
    }
    return OK;
}

static void floor_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_process_connection(floor_process_connection, NULL, NULL,
                               APR_HOOK_REALLY_FIRST);
}

static const command_rec floor_cmds[] = {
    AP_INIT_TAKE2("EchoFloor", floor_cmd, NULL, RSRC_CONF,
                  "EchoFloor PORT blocking|async (once per mode)"),
    {NULL, {NULL}, NULL, 0, RAW_ARGS, NULL}
};

AP_DECLARE_MODULE(echofloor) = {
    STANDARD20_MODULE_STUFF, NULL, NULL, floor_create, NULL, floor_cmds,
    floor_hooks, 0
};
