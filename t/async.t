# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# The asynchronous driver (WebSocketDriver Async, event MPM): an idle
# WebSocket holds no worker thread, and everything still works while it
# is parked -- echo, server pings from the timer thread, a plugin thread
# (dumb-increment) writing to a parked connection, the close timeout.
# Locations in t/conf/async.conf.in.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Time::HiRes qw(time sleep);
use Apache::Test qw(plan ok need_module);
use Apache::TestUtil qw(t_cmp);
use Apache::TestRequest qw(GET_BODY);
use WSClient;
use WSMem qw(slow_factor);
use WSTest qw(bound);

plan tests => 12, need_module 'mod_websocket.c', 'mod_status.c',
    'mpm_event.c';

my $F = slow_factor();

sub busy_workers {
    my ($n) = GET_BODY('/server-status?auto') =~ /^BusyWorkers: (\d+)$/m;
    $n // -1;
}

sub open_idle {
    my ($path, $n) = @_;
    my @c = map { WSClient->connect(path => $path) } 1 .. $n;
    $_->send_text('hi') for @c;
    my $echoed = grep { my $f = $_->read_frame(timeout => 5 * $F);
                        $f && $f->{payload} eq 'hi' } @c;
    (\@c, $echoed);
}

sub close_all {
    for (@{ $_[0] }) {
        $_->send_close(1000);
        $_->read_until_close(timeout => 5);
    }
}

# ---- idle connections and worker threads ------------------------------
my $base = busy_workers();
my ($async, $n_async) = open_idle('/async-echo', 20);
ok t_cmp($n_async, 20, 'async: 20 connections echo');
sleep 0.3;
my $busy_async = busy_workers();
print "# busy workers: $base before, $busy_async with 20 idle async\n";
ok t_cmp(bound($busy_async - $base, '<=', 2), '<= 2',   # the status request
         'busy workers added by 20 idle async connections');
my ($blocking, $n_blocking) = open_idle('/blocking-echo', 20);
sleep 0.3;
my $busy_blocking = busy_workers();
print "# busy workers: $busy_blocking with 20 more idle blocking\n";
ok t_cmp(bound($busy_blocking - $busy_async, '>=', 20), '>= 20',  # one each
         'busy workers added by 20 idle blocking connections');
# the parked ones still answer
$_->send_text('again') for @$async;
my $again = grep { my $f = $_->read_frame(timeout => 5 * $F);
                   $f && $f->{payload} eq 'again' } @$async;
ok t_cmp($again, 20, 'parked connections echo again');
close_all($async);
close_all($blocking);

# ---- a ping from the timer thread while parked ------------------------
{
    my $c = WSClient->connect(path => '/async-ping');
    my $t0 = time;
    my $f = $c->read_frame(timeout => 5 * $F);
    my $dt = time - $t0;
    ok t_cmp($f ? $f->{opcode} : 'none', 9, 'a ping while parked');
    my $within = 2.5 * $F;
    ok t_cmp(bound($dt, '<', $within), "< $within",
             'seconds until the ping (WebSocketPingInterval 1)');
    # no pong: 1011 after the pong timeout
    my $r = $c->read_until_close(timeout => 5 * $F);
    ok t_cmp($r->{code}, 1011, 'no pong: 1011');
}

# ---- a plugin thread writes to a parked connection ---------------------
{
    my $c = WSClient->connect(path => '/async-increment',
                              protocols => 'dumb-increment-protocol');
    ok t_cmp($c->status, 101, 'dumb-increment: 101');
    my @n;
    my $t0 = time;
    while (@n < 10 && time - $t0 < 5 * $F) {
        my $f = $c->read_frame(timeout => 2 * $F) or last;
        push @n, $f->{payload} if $f->{opcode} == 1;
    }
    ok t_cmp("@n", '0 1 2 3 4 5 6 7 8 9', 'the counter arrives in order');
    $c->send_close(1000);
    my $r = $c->read_until_close(timeout => 5);
    ok t_cmp($r->{code}, 1000, 'closed');
}

# ---- the close timeout while parked ------------------------------------
{
    my $c = WSClient->connect(path => '/async-close');
    $c->send_text('close');
    my $f = $c->read_frame(timeout => 5 * $F);
    ok t_cmp($f ? $f->{opcode} : 'none', 8, 'the plugin closed');
    my $t0 = time;
    my $eof = $c->wait_eof(timeout => 5 * $F);
    my $dt = time - $t0;
    print "# TCP closed after $dt s\n";
    my $within = 3 * $F;    # WebSocketCloseTimeout 1
    ok t_cmp(($eof ? 'closed' : 'open') . ', ' . bound($dt, '<', $within),
             "closed, < $within", 'TCP closed by the server, in seconds');
}
