/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_log.h -- log tags of mod_websocket ("WSnnnnn: ", like httpd's AHnnnnn).
 */
#ifndef WS_LOG_H
#define WS_LOG_H

#define WS_LOGNO(n) "WS" #n ": "

#endif /* WS_LOG_H */
