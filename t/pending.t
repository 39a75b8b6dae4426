# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# A client that stops reading while a plugin thread sends to it: the
# connection is given up once the client has taken nothing for
# WebSocketSendTimeout (2 s here), and on_disconnect runs once.  Under
# the asynchronous driver a plugin thread writes to a parked connection
# without blocking: what the client does not take stays pending on the
# connection, and the child's loop ends the session when the send
# timeout has passed (WS00116); if a worker has the connection at that
# moment (it read the client's message), the worker's own write waits
# and gives up after the same time (WS00101), as the blocking driver's
# thread does.  Virtual host ws_pending in t/conf/pending.conf.in.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Fcntl qw(F_GETFL F_SETFL O_NONBLOCK);
use IO::Select ();
use Socket qw(PF_INET SOCK_STREAM SOL_SOCKET SO_RCVBUF inet_aton
              pack_sockaddr_in unpack_sockaddr_in);
use Time::HiRes qw(time sleep);
use Apache::Test qw(plan ok need_module);
use Apache::TestUtil qw(t_cmp);
use WSClient;
use WSMem qw(slow_factor);
use WSTest qw(log_mark wait_log vhost_port bound);

plan tests => 4, need_module 'mod_websocket.c';

my $F = slow_factor();
my $defines = Apache::Test::vars()->{defines} || '';
my $async = !($defines =~ /\bWS_DRIVER_BLOCKING\b/
              || !Apache::Test::have_module('mpm_event.c'));
my $port = vhost_port('ws_pending');
my $mark = log_mark();

# a small receive buffer, set before connect(), so that it fills at once
socket(my $fh, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
setsockopt($fh, SOL_SOCKET, SO_RCVBUF, pack('i', 4096)) or die $!;
connect($fh, pack_sockaddr_in($port, inet_aton('127.0.0.1')))
    or die "connect: $!";
binmode $fh;
my $tag = "pending-$$";
syswrite $fh, "GET /pending-slow HTTP/1.1\r\nHost: localhost:$port\r\n"
    . "Upgrade: websocket\r\nConnection: Upgrade\r\n"
    . 'Sec-WebSocket-Key: ' . WSClient::random_key() . "\r\n"
    . "Sec-WebSocket-Version: 13\r\nX-Tag: $tag\r\n\r\n";
my $head = '';
my $sel = IO::Select->new($fh);
my $deadline = time + 5 * $F;
while ($head !~ /\r\n\r\n/ && time < $deadline) {
    $sel->can_read($deadline - time) or last;
    sysread($fh, $head, 1, length $head) or last;   # not a byte more
}
my ($status) = $head =~ m{^HTTP/1\.1 (\d{3})};
ok t_cmp($status // 'none', 101, '101');
my ($cport) = unpack_sockaddr_in(getsockname $fh);

# the first message starts the plugin thread; then this client reads
# nothing at all
sleep 0.3;    # parked first, under the asynchronous driver
syswrite $fh, WSClient::encode_frame(opcode => 1, payload => 'go');
my $t0 = time;
my $gone = wait_log($mark, qr/^ws_test_threads: disconnect tag=\Q$tag\E /m,
                    15 * $F);
my $dt = time - $t0;
printf "# on_disconnect %.1f s after the client stopped reading\n", $dt;
ok t_cmp($gone ? 'on_disconnect' : 'still open', 'on_disconnect',
         'the connection is given up');
my $within = 2 + 6 * $F;    # the send timeout, plus filling and a tick
ok t_cmp(bound($dt, '<', $within), "< $within",
         'seconds until it is given up (WebSocketSendTimeout 2)');
my $log = wait_log($mark, qr/\[(?:client|remote) 127\.0\.0\.1:$cport\] /
                         . qr/WS00(?:116|101): /, 2 * $F) // '';
my ($why) = $log =~ /:$cport\] (WS00(?:116|101)): /;
print "# given up by: ", ($why // 'nothing'), "\n";
ok t_cmp($why // 'no such line', $async ? qr/^WS00(?:116|101)$/ : 'WS00101',
         'the log says the client took nothing (WS00116: pending output, '
         . 'WS00101: a write that waited)');
close $fh;
