/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_check.h -- configuration checks at startup: mistakes httpd accepts
 * but that keep WebSockets from working as configured.
 */
#ifndef WS_CHECK_H
#define WS_CHECK_H

#include "httpd.h"

/**
 * Registers the checks: they run after every configuration pass that
 * starts or restarts the server (post_config, their warnings go to the
 * error log) and with "httpd -t" (test_config, on stderr).
 */
void ws_check_register_hooks(apr_pool_t *p);

#endif /* WS_CHECK_H */
