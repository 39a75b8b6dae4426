/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_directives.h -- the command table of mod_websocket's directives.
 */
#ifndef WS_DIRECTIVES_H
#define WS_DIRECTIVES_H

#include "httpd.h"
#include "http_config.h"

/** Every directive, for the module record (mod_websocket.c). */
extern const command_rec ws_config_cmds[];

#endif /* WS_DIRECTIVES_H */
