# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# Slow HTTP clients holding every worker: 500 connections each send half
# a request line and stop (mod_reqtimeout would drop them only after
# 20-40 s), while an open WebSocket echoes a message every 100 ms.  In
# httpd 2.4 request headers are read on a worker, so the flood holds
# them all; a parked WebSocket must still be served (the asynchronous
# driver's loop rescues input no worker takes, ws_loop.c), and one with a
# thread of its own (blocking driver) keeps it.  Every echo comes back
# within a second, none is lost, nothing is closed.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::IP ();
use Time::HiRes qw(time sleep);
use Apache::Test qw(plan ok need_module);
use Apache::TestUtil qw(t_cmp);
use WSClient;
use WSMem qw(slow_factor);
use WSTest qw(bound);

plan tests => 6, need_module 'mod_websocket.c';

my $F = slow_factor();
my $port = Apache::Test::vars('port');

my $ws = WSClient->connect(path => '/echo');
$ws->send_text('warm');
my $f = $ws->read_frame(timeout => 5 * $F);
ok t_cmp($f ? $f->{payload} : 'none', 'warm', 'the WebSocket echoes');
sleep 0.3;    # idle: parked under the asynchronous driver

# the flood: half a request line each, then silence
my @flood;
for (1 .. 500) {
    my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $port,
                                Timeout => 5) or last;
    syswrite $s, "GET /echo HT";
    push @flood, $s;
}
print "# flood: ", scalar(@flood), " half-open requests\n";
sleep 2;      # let the MPM hand them to workers (and start children)

my (@rtt, $lost, $closed) = ();
$lost = 0;
$closed = '';
my $t_end = time + 8;
my $i = 0;
while (time < $t_end) {
    my $msg = 'm' . $i++;
    my $t0 = time;
    $ws->send_text($msg);
    my $r = $ws->read_frame(timeout => 5 * $F);
    if (!$r) {
        $lost++;
        last if $ws->eof;
        next;
    }
    if ($r->{opcode} == 8) {
        $closed = $r->{code} // 'no code';
        last;
    }
    if ($r->{payload} ne $msg) {
        $lost++;
        next;
    }
    push @rtt, time - $t0;
    sleep 0.1;
}
my @s = sort { $a <=> $b } @rtt;
my $max = @s ? $s[-1] : 99;
printf "# round trips during the flood: %d, p50 %.1f ms, p99 %.1f ms, "
    . "max %.1f ms\n", scalar(@s), 1000 * ($s[@s / 2] // 0),
    1000 * ($s[int(@s * 0.99)] // 0), 1000 * $max;
ok t_cmp(scalar(@flood), 500, 'half-open requests holding the workers');
ok t_cmp($lost, 0, 'echoes lost or wrong during the flood');
ok t_cmp($closed, '', 'close frame received during the flood');
ok t_cmp(bound($max, '<', 1 * $F), '< ' . (1 * $F),
         'slowest round trip during the flood (s)');

close $_ for @flood;
$ws->send_text('after');
$f = $ws->read_frame(timeout => 5 * $F);
ok t_cmp($f ? $f->{payload} : 'none', 'after', 'echo after the flood');
$ws->send_close(1000);
$ws->read_until_close(timeout => 5);
