/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * test_abi.c -- Check tests pinning the plugin ABI of websocket_plugin.h
 * (SPEC section 1): constants, struct layout, callback signatures.
 */

/* First and alone: the header must compile without anything included
 * before it (it needs only the <stdlib.h> it includes itself). */
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
#undef SRV
#undef PLG
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
    ck_assert_uint_eq(sizeof(WebSocketServer), 80);
    ck_assert_uint_eq(sizeof(WebSocketPlugin), 40);
}
END_TEST

/* ---- signatures ---------------------------------------------------- */

/* Functions with exactly the signatures of SPEC section 1.  Storing them
 * in the structs below is a compile error under -Werror if a typedef's
 * return or parameter types change; calling through the members checks
 * the arguments arrive where a 0.1.2 plugin puts them. */
static const char *last_key;
static const char *last_value;
static int last_type;
static size_t last_size;

static struct request_rec *CALLBACK fake_request(const WebSocketServer *s)
{
    return (struct request_rec *)(void *)s->state;
}

static const char *CALLBACK fake_header_get(const WebSocketServer *s,
                                            const char *key)
{
    (void)s;
    last_key = key;
    return "value";
}

static void CALLBACK fake_header_set(const WebSocketServer *s,
                                     const char *key, const char *value)
{
    (void)s;
    last_key = key;
    last_value = value;
}

static size_t CALLBACK fake_protocol_count(const WebSocketServer *s)
{
    (void)s;
    return 2;
}

static const char *CALLBACK fake_protocol_index(const WebSocketServer *s,
                                                const size_t index)
{
    (void)s;
    return index == 1 ? "second" : NULL;
}

static void CALLBACK fake_protocol_set(const WebSocketServer *s,
                                       const char *protocol)
{
    (void)s;
    last_value = protocol;
}

static size_t CALLBACK fake_send(const WebSocketServer *s, const int type,
                                 const unsigned char *buffer,
                                 const size_t buffer_size)
{
    (void)s;
    (void)buffer;
    last_type = type;
    last_size = buffer_size;
    return buffer_size;
}

static void CALLBACK fake_close(const WebSocketServer *s)
{
    (void)s;
    last_type = -2;
}

static void CALLBACK fake_destroy(WebSocketPlugin *plugin)
{
    (void)plugin;
}

static void *CALLBACK fake_on_connect(const WebSocketServer *s)
{
    return (void *)s;
}

static size_t CALLBACK fake_on_message(void *priv, const WebSocketServer *s,
                                       const int type, unsigned char *buffer,
                                       const size_t buffer_size)
{
    (void)priv;
    return s->send(s, type, buffer, buffer_size);
}

static void CALLBACK fake_on_disconnect(void *priv, const WebSocketServer *s)
{
    (void)priv;
    (void)s;
}

static WebSocketPlugin *CALLBACK fake_init(void)
{
    /* positional, the way 0.1.2 plugins initialise it */
    static WebSocketPlugin plugin = {
        sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0, fake_destroy,
        fake_on_connect, fake_on_message, fake_on_disconnect};

    return &plugin;
}

START_TEST(test_signatures)
{
    int state;
    /* positional too: the member order is the one of SPEC section 1 */
    WebSocketServer server = {
        sizeof(WebSocketServer), WEBSOCKET_SERVER_VERSION_1,
        (struct _WebSocketState *)(void *)&state, fake_request,
        fake_header_get, fake_header_set, fake_protocol_count,
        fake_protocol_index, fake_protocol_set, fake_send, fake_close};
    WS_Init init = fake_init;
    WebSocketPlugin *plugin = init();
    unsigned char buf[] = "hello";

    ck_assert_ptr_eq(server.request(&server), (void *)&state);
    ck_assert_str_eq(server.header_get(&server, "Host"), "value");
    ck_assert_str_eq(last_key, "Host");
    server.header_set(&server, "X-Key", "x-value");
    ck_assert_str_eq(last_key, "X-Key");
    ck_assert_str_eq(last_value, "x-value");
    ck_assert_uint_eq(server.protocol_count(&server), 2);
    ck_assert_str_eq(server.protocol_index(&server, 1), "second");
    ck_assert_ptr_null(server.protocol_index(&server, 2));
    server.protocol_set(&server, "chat");
    ck_assert_str_eq(last_value, "chat");

    ck_assert_uint_eq(plugin->size, sizeof(WebSocketPlugin));
    ck_assert_uint_eq(plugin->version, WEBSOCKET_PLUGIN_VERSION_0);
    ck_assert_ptr_eq(plugin->on_connect(&server), &server);
    ck_assert_uint_eq(plugin->on_message(NULL, &server, MESSAGE_TYPE_BINARY,
                                         buf, 5),
                      5);
    ck_assert_int_eq(last_type, MESSAGE_TYPE_BINARY);
    ck_assert_uint_eq(last_size, 5);
    server.close(&server);
    ck_assert_int_eq(last_type, -2);
    plugin->on_disconnect(NULL, &server);
    plugin->destroy(plugin);
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
        offsetof(WebSocketServer, close)};
    const size_t plg[] = {
        offsetof(WebSocketPlugin, destroy),
        offsetof(WebSocketPlugin, on_connect),
        offsetof(WebSocketPlugin, on_message),
        offsetof(WebSocketPlugin, on_disconnect)};
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
    ck_assert_uint_eq(sizeof(WebSocketServer), srv[8] + fp);
    ck_assert_uint_eq(sizeof(WebSocketPlugin), plg[3] + fp);
}
END_TEST

static Suite *abi_suite(void)
{
    Suite *s = suite_create("websocket_plugin_abi");
    TCase *tc = tcase_create("v0");

    tcase_add_loop_test(tc, test_constant, 0, N_ROWS(constant_rows));
    tcase_add_test(tc, test_member_order);
    tcase_add_test(tc, test_signatures);
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
