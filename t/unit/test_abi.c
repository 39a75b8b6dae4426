/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * test_abi.c -- Check tests pinning the plugin ABI of websocket_plugin.h
 * (SPEC sections 1 and 7): constants, struct layout of API v0 and v1,
 * callback signatures, the size test of WEBSOCKET_SERVER_HAS.
 */

/* First and alone: the header must compile without anything included
 * before it (it needs only the standard headers it includes itself).
 * This file sees API v1; test_abi_v0.c is a version 0 source. */
#define WEBSOCKET_PLUGIN_API 1
#include "websocket_plugin.h"

/* ... and must not drag in APR or httpd: plugins build without them. */
#if defined(APR_H) || defined(APACHE_HTTPD_H)
#error "websocket_plugin.h must not include APR or httpd headers"
#endif
#if !defined(EXPORT) || !defined(CALLBACK)
#error "websocket_plugin.h must define EXPORT and CALLBACK"
#endif

#include <check.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "test_abi.h"

#define N_ROWS(t) ((int)(sizeof(t) / sizeof((t)[0])))

/* ---- constants ----------------------------------------------------- */

/* Plain #defines of int values (SPEC section 1): plugins switch on them
 * and compare them with the int type of on_message(). */
static const struct {
    const char *name;
    long value; /* wider than int: a value that overflowed would show */
    size_t size;
    long expected;
} constant_rows[] = {
#define ROW(name, expected) {#name, name, sizeof(name), expected}
    ROW(MESSAGE_TYPE_INVALID, -1),
    ROW(MESSAGE_TYPE_TEXT, 0),
    ROW(MESSAGE_TYPE_BINARY, 128),
    ROW(MESSAGE_TYPE_CLOSE, 255),
    ROW(MESSAGE_TYPE_PING, 256),
    ROW(MESSAGE_TYPE_PONG, 257),
    ROW(WEBSOCKET_SERVER_VERSION_1, 1),
    ROW(WEBSOCKET_PLUGIN_VERSION_0, 0),
    ROW(WEBSOCKET_SERVER_VERSION_2, 2),
    ROW(WEBSOCKET_PLUGIN_VERSION_1, 1),
    ROW(WEBSOCKET_HOST_VERSION_1, 1),
    ROW(WEBSOCKET_OK, 0),
    ROW(WEBSOCKET_ERR_INVALID, -1),
    ROW(WEBSOCKET_ERR_CLOSED, -2),
    ROW(WEBSOCKET_ERR_FULL, -3),
    ROW(WEBSOCKET_ERR_LIMIT, -4),
    ROW(WEBSOCKET_ERR_UNAVAILABLE, -5),
    ROW(WEBSOCKET_ERR_NOT_FOUND, -6),
    ROW(WEBSOCKET_CHANNEL_NAME_MAX, 255),
    ROW(WEBSOCKET_CHANNELS_MAX, 255),
    ROW(WEBSOCKET_CLOSE_NO_STATUS, 1005),
    ROW(WEBSOCKET_CLOSE_ABNORMAL, 1006),
#undef ROW
};

START_TEST(test_constant)
{
    ck_assert_msg(constant_rows[_i].value == constant_rows[_i].expected,
                  "%s is %ld, expected %ld", constant_rows[_i].name,
                  constant_rows[_i].value, constant_rows[_i].expected);
    ck_assert_msg(constant_rows[_i].size == sizeof(int),
                  "%s is not an int constant", constant_rows[_i].name);
}
END_TEST

/* ---- layout (LP64) ------------------------------------------------- */

/* Offsets and sizes a plugin built against the 0.1.2 header has compiled
 * in.  Any change breaks every such plugin binary. */
static const struct {
    const char *name;
    size_t offset;
    size_t size;
    size_t expected_offset;
    size_t expected_size;
} layout_rows[] = {
#define SRV(m, off, sz)                                                    \
    {"WebSocketServer." #m, offsetof(WebSocketServer, m),                  \
     sizeof(((WebSocketServer *)0)->m), off, sz}
#define PLG(m, off, sz)                                                    \
    {"WebSocketPlugin." #m, offsetof(WebSocketPlugin, m),                  \
     sizeof(((WebSocketPlugin *)0)->m), off, sz}
#define HST(m, off, sz)                                                    \
    {"WebSocketHost." #m, offsetof(WebSocketHost, m),                      \
     sizeof(((WebSocketHost *)0)->m), off, sz}
    SRV(size, 0, 4),
    SRV(version, 4, 4),
    SRV(state, 8, 8),
    SRV(request, 16, 8),
    SRV(header_get, 24, 8),
    SRV(header_set, 32, 8),
    SRV(protocol_count, 40, 8),
    SRV(protocol_index, 48, 8),
    SRV(protocol_set, 56, 8),
    SRV(send, 64, 8),
    SRV(close, 72, 8),
    PLG(size, 0, 4),
    PLG(version, 4, 4),
    PLG(destroy, 8, 8),
    PLG(on_connect, 16, 8),
    PLG(on_message, 24, 8),
    PLG(on_disconnect, 32, 8),
    /* API v1, appended */
    SRV(subscribe, 80, 8),
    SRV(unsubscribe, 88, 8),
    SRV(publish, 96, 8),
    SRV(close_with, 104, 8),
    SRV(option, 112, 8),
    PLG(on_close, 40, 8),
    PLG(on_load, 48, 8),
    PLG(on_child_init, 56, 8),
    PLG(on_child_exit, 64, 8),
    HST(size, 0, 4),
    HST(version, 4, 4),
    HST(state, 8, 8),
    HST(publish, 16, 8),
    HST(option, 24, 8),
#undef SRV
#undef PLG
#undef HST
};

START_TEST(test_layout_lp64)
{
    ck_assert_msg(layout_rows[_i].offset == layout_rows[_i].expected_offset,
                  "offsetof(%s) is %zu, expected %zu", layout_rows[_i].name,
                  layout_rows[_i].offset, layout_rows[_i].expected_offset);
    ck_assert_msg(layout_rows[_i].size == layout_rows[_i].expected_size,
                  "sizeof(%s) is %zu, expected %zu", layout_rows[_i].name,
                  layout_rows[_i].size, layout_rows[_i].expected_size);
}
END_TEST

START_TEST(test_struct_size_lp64)
{
    /* version 0 as a v0 source sees it; v1 with WEBSOCKET_PLUGIN_API */
    ck_assert_uint_eq(abi_v0_server_size(), 80);
    ck_assert_uint_eq(abi_v0_plugin_size(), 40);
    ck_assert_uint_eq(sizeof(WebSocketServer), 120);
    ck_assert_uint_eq(sizeof(WebSocketPlugin), 72);
    ck_assert_uint_eq(sizeof(WebSocketHost), 32);
}
END_TEST

/* ---- signatures ---------------------------------------------------- */

START_TEST(test_signatures_v0)
{
    /* in test_abi_v0.c: a version 0 source, positional initialisers */
    abi_v0_signatures();
}
END_TEST

START_TEST(test_v0_view)
{
    /* without WEBSOCKET_PLUGIN_API a source sees the structs of v0 */
    ck_assert_uint_eq(abi_v0_server_size(),
                      offsetof(WebSocketServer, subscribe));
    ck_assert_uint_eq(abi_v0_plugin_size(),
                      offsetof(WebSocketPlugin, on_close));
}
END_TEST

/* API v1: functions with exactly the documented signatures */
static const char *v1_channel;
static int v1_code;

static int CALLBACK fake_subscribe(const WebSocketServer *s,
                                   const char *channel)
{
    (void)s;
    v1_channel = channel;
    return WEBSOCKET_OK;
}

static int CALLBACK fake_unsubscribe(const WebSocketServer *s,
                                     const char *channel)
{
    (void)s;
    v1_channel = channel;
    return WEBSOCKET_ERR_NOT_FOUND;
}

static int CALLBACK fake_publish(const WebSocketServer *s,
                                 const char *channel, const int type,
                                 const unsigned char *buffer,
                                 const size_t buffer_size)
{
    (void)s;
    (void)buffer;
    v1_channel = channel;
    return type == MESSAGE_TYPE_TEXT ? (int)buffer_size
                                     : WEBSOCKET_ERR_INVALID;
}

static int CALLBACK fake_close_with(const WebSocketServer *s,
                                    const int code, const char *reason)
{
    (void)s;
    v1_code = code;
    v1_channel = reason;
    return WEBSOCKET_OK;
}

static const char *CALLBACK fake_option(const WebSocketServer *s,
                                        const char *key)
{
    (void)s;
    return key;
}

static int CALLBACK fake_host_publish(const WebSocketHost *h,
                                      const char *channel, const int type,
                                      const unsigned char *buffer,
                                      const size_t buffer_size)
{
    (void)h;
    (void)type;
    (void)buffer;
    v1_channel = channel;
    return (int)buffer_size;
}

static const char *CALLBACK fake_host_option(const WebSocketHost *h,
                                             const char *key)
{
    (void)h;
    return key;
}

static const WebSocketHost *loaded_host;
static int child_calls;

static void CALLBACK fake_on_close(void *priv, const WebSocketServer *s,
                                   const int code, const char *reason,
                                   const size_t reason_size)
{
    (void)priv;
    (void)s;
    (void)reason_size;
    v1_code = code;
    v1_channel = reason;
}

static void CALLBACK fake_on_load(WebSocketPlugin *p, const WebSocketHost *h)
{
    (void)p;
    loaded_host = h;
}

static void CALLBACK fake_on_child(WebSocketPlugin *p)
{
    (void)p;
    child_calls++;
}

static size_t CALLBACK v1_on_message(void *priv, const WebSocketServer *s,
                                     const int type, unsigned char *buffer,
                                     const size_t buffer_size)
{
    (void)priv;
    (void)s;
    (void)type;
    (void)buffer;
    return buffer_size;
}

START_TEST(test_signatures_v1)
{
    WebSocketServer server;
    WebSocketHost host = {sizeof(WebSocketHost), WEBSOCKET_HOST_VERSION_1,
                          NULL, fake_host_publish, fake_host_option};
    /* positional, all members of version 1 */
    WebSocketPlugin plugin = {
        sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_1, NULL, NULL,
        v1_on_message, NULL, fake_on_close, fake_on_load, fake_on_child,
        fake_on_child};
    const unsigned char hi[] = "hi";

    memset(&server, 0, sizeof(server));
    server.size = sizeof(server);
    server.version = WEBSOCKET_SERVER_VERSION_2;
    server.subscribe = fake_subscribe;
    server.unsubscribe = fake_unsubscribe;
    server.publish = fake_publish;
    server.close_with = fake_close_with;
    server.option = fake_option;

    ck_assert_int_eq(server.subscribe(&server, "room"), WEBSOCKET_OK);
    ck_assert_str_eq(v1_channel, "room");
    ck_assert_int_eq(server.unsubscribe(&server, "other"),
                     WEBSOCKET_ERR_NOT_FOUND);
    ck_assert_str_eq(v1_channel, "other");
    ck_assert_int_eq(server.publish(&server, "p", MESSAGE_TYPE_TEXT, hi, 2),
                     2);
    ck_assert_int_eq(server.close_with(&server, 4000, "bye"), WEBSOCKET_OK);
    ck_assert_int_eq(v1_code, 4000);
    ck_assert_str_eq(v1_channel, "bye");
    ck_assert_str_eq(server.option(&server, "greeting"), "greeting");
    ck_assert_int_eq(host.publish(&host, "tick", MESSAGE_TYPE_TEXT, hi, 2),
                     2);
    ck_assert_str_eq(host.option(&host, "k"), "k");

    plugin.on_load(&plugin, &host);
    ck_assert_ptr_eq(loaded_host, &host);
    plugin.on_close(NULL, &server, 1001, "away", 4);
    ck_assert_int_eq(v1_code, 1001);
    plugin.on_child_init(&plugin);
    plugin.on_child_exit(&plugin);
    ck_assert_int_eq(child_calls, 2);
}
END_TEST

/* The test a v1 plugin makes against a server (or host) of any age. */
START_TEST(test_has_member)
{
    WebSocketServer server;
    WebSocketHost host;
    const WebSocketServer *none = NULL;

    memset(&server, 0, sizeof(server));
    memset(&host, 0, sizeof(host));
    /* an older module: the 80 bytes of version 1 */
    server.size = (unsigned int)offsetof(WebSocketServer, subscribe);
    ck_assert(WEBSOCKET_SERVER_HAS(&server, close));
    ck_assert(!WEBSOCKET_SERVER_HAS(&server, subscribe));
    ck_assert(!WEBSOCKET_SERVER_HAS(&server, option));
    /* one member short */
    server.size = (unsigned int)offsetof(WebSocketServer, option);
    ck_assert(WEBSOCKET_SERVER_HAS(&server, close_with));
    ck_assert(!WEBSOCKET_SERVER_HAS(&server, option));
    server.size = sizeof(WebSocketServer);
    ck_assert(WEBSOCKET_SERVER_HAS(&server, subscribe));
    ck_assert(WEBSOCKET_SERVER_HAS(&server, option));
    ck_assert(!WEBSOCKET_SERVER_HAS(none, send));
    host.size = sizeof(WebSocketHost);
    ck_assert(WEBSOCKET_HOST_HAS(&host, option));
    host.size = (unsigned int)offsetof(WebSocketHost, option);
    ck_assert(WEBSOCKET_HOST_HAS(&host, publish));
    ck_assert(!WEBSOCKET_HOST_HAS(&host, option));
}
END_TEST

/* Platform-independent: members in declaration order, the function
 * pointers packed one after another after the two unsigned ints. */
START_TEST(test_member_order)
{
    const size_t fp = sizeof(WS_Send);
    const size_t srv[] = {
        offsetof(WebSocketServer, state),
        offsetof(WebSocketServer, request),
        offsetof(WebSocketServer, header_get),
        offsetof(WebSocketServer, header_set),
        offsetof(WebSocketServer, protocol_count),
        offsetof(WebSocketServer, protocol_index),
        offsetof(WebSocketServer, protocol_set),
        offsetof(WebSocketServer, send),
        offsetof(WebSocketServer, close),
        offsetof(WebSocketServer, subscribe),
        offsetof(WebSocketServer, unsubscribe),
        offsetof(WebSocketServer, publish),
        offsetof(WebSocketServer, close_with),
        offsetof(WebSocketServer, option)};
    const size_t plg[] = {
        offsetof(WebSocketPlugin, destroy),
        offsetof(WebSocketPlugin, on_connect),
        offsetof(WebSocketPlugin, on_message),
        offsetof(WebSocketPlugin, on_disconnect),
        offsetof(WebSocketPlugin, on_close),
        offsetof(WebSocketPlugin, on_load),
        offsetof(WebSocketPlugin, on_child_init),
        offsetof(WebSocketPlugin, on_child_exit)};
    size_t i;

    ck_assert_uint_eq(offsetof(WebSocketServer, size), 0);
    ck_assert_uint_eq(offsetof(WebSocketServer, version),
                      sizeof(unsigned int));
    ck_assert_uint_eq(offsetof(WebSocketPlugin, size), 0);
    ck_assert_uint_eq(offsetof(WebSocketPlugin, version),
                      sizeof(unsigned int));
    for (i = 2; i < sizeof(srv) / sizeof(srv[0]); i++) {
        ck_assert_uint_eq(srv[i], srv[i - 1] + fp);
    }
    ck_assert_uint_eq(srv[1], srv[0] + sizeof(void *));
    for (i = 1; i < sizeof(plg) / sizeof(plg[0]); i++) {
        ck_assert_uint_eq(plg[i], plg[i - 1] + fp);
    }
    ck_assert_uint_eq(sizeof(WebSocketServer), srv[13] + fp);
    ck_assert_uint_eq(sizeof(WebSocketPlugin), plg[7] + fp);
    ck_assert_uint_eq(offsetof(WebSocketHost, publish),
                      offsetof(WebSocketHost, state) + sizeof(void *));
    ck_assert_uint_eq(offsetof(WebSocketHost, option),
                      offsetof(WebSocketHost, publish) + fp);
    ck_assert_uint_eq(sizeof(WebSocketHost),
                      offsetof(WebSocketHost, option) + fp);
}
END_TEST

static Suite *abi_suite(void)
{
    Suite *s = suite_create("websocket_plugin_abi");
    TCase *tc = tcase_create("v0 and v1");

    tcase_add_loop_test(tc, test_constant, 0, N_ROWS(constant_rows));
    tcase_add_test(tc, test_member_order);
    tcase_add_test(tc, test_signatures_v0);
    tcase_add_test(tc, test_v0_view);
    tcase_add_test(tc, test_signatures_v1);
    tcase_add_test(tc, test_has_member);
    /* The byte values of SPEC section 1 are those of LP64 (Linux, BSD,
     * macOS on 64-bit); elsewhere only the order above is pinned. */
    if (sizeof(void *) == 8 && sizeof(unsigned int) == 4) {
        tcase_add_test(tc, test_struct_size_lp64);
        tcase_add_loop_test(tc, test_layout_lp64, 0, N_ROWS(layout_rows));
    }
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(abi_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
