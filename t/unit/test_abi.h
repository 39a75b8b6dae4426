/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * test_abi.h -- what test_abi_v0.c (a version 0 source) gives test_abi.c.
 */
#ifndef TEST_ABI_H
#define TEST_ABI_H

#include <stddef.h>

/** sizeof(WebSocketServer) as a version 0 source sees it */
size_t abi_v0_server_size(void);

/** sizeof(WebSocketPlugin) as a version 0 source sees it */
size_t abi_v0_plugin_size(void);

/** Calls every v0 member through positionally initialised structs. */
void abi_v0_signatures(void);

#endif /* TEST_ABI_H */
