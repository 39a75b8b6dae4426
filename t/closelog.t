# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# "LogLevel websocket:debug shows connections opening and closing": the
# same two lines under both drivers, for a close by the client, a close
# by the server (the plugin is asked nothing: the client's close frame)
# and a client that just drops the TCP connection.  Virtual host
# ws_closelog in t/conf/closelog.conf.in.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(plan ok need_module);
use Apache::TestUtil qw(t_cmp);
use WSClient;
use WSTest qw(log_mark wait_log);
use WSMem qw(slow_factor);

plan tests => 6, need_module 'mod_websocket.c';

my $F = slow_factor();
my $defines = Apache::Test::vars()->{defines} || '';
# Auto: asynchronous on the event MPM, blocking elsewhere
my $driver = $defines =~ /\bWS_DRIVER_BLOCKING\b/
             || !Apache::Test::have_module('mpm_event.c')
             ? 'blocking' : 'async';

for my $how ('close frame', 'TCP drop', 'after echoes') {
    my $mark = log_mark();
    my $c = WSClient->connect(vhost => 'ws_closelog',
                              path => '/closelog-echo');
    my $port = $c->sock->sockport;
    my $client = qr/\[client 127\.0\.0\.1:$port\]/;
    if ($how eq 'after echoes') {
        for (1 .. 3) {
            $c->send_text("m$_");
            $c->read_frame(timeout => 5 * $F);
        }
    }
    if ($how eq 'TCP drop') {
        $c->close_socket;
    }
    else {
        $c->send_close(1000);
        $c->read_until_close(timeout => 5 * $F);
    }
    my $open = wait_log($mark, qr/$client WS00205: WebSocket connection open /
                               . qr/\(version 13, (\w+) driver\)/, 5 * $F);
    my ($name) = ($open // '') =~ /WS00205: .*\((?:version 13), (\w+) driver/;
    ok t_cmp($name // 'no WS00205 line', $driver,
             "$how: WS00205 names the driver");
    my $closed = wait_log($mark, qr/$client WS00206: WebSocket connection /
                                 . qr/closed/, 5 * $F);
    ok t_cmp($closed ? 'WS00206' : 'no WS00206 line', 'WS00206',
             "$how: WS00206 when the connection ends");
}
