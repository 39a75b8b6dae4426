# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# Timeouts and keepalive: server pings after WebSocketPingInterval of
# silence, a client that does not answer within WebSocketPongTimeout is
# cut off with 1011, WebSocketIdleTimeout closes with 1001, a client that
# stops reading is cut off after WebSocketSendTimeout, and a graceful
# restart sends 1001 (going away) to open connections of the old
# generation.  Locations in t/conf/timeouts.conf.in.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Time::HiRes qw(time sleep);
use Apache::Test qw(plan ok need_module);
use Apache::TestUtil qw(t_cmp);
use WSClient;
use WSTest qw(case ncases run_cases log_mark wait_log log_since);
use WSMem qw(slow_factor children);

my $F = slow_factor();

# ---- pings after silence, answered pings keep the connection ----------
case(5, 'pings after WebSocketPingInterval of silence', sub {
    my $c = WSClient->connect(path => '/to-ping');
    ok t_cmp($c->status, 101, '101');
    my $t0 = time;
    my $f = $c->read_frame(timeout => 5 * $F);
    my $dt = time - $t0;
    ok t_cmp($f ? $f->{opcode} : 'none', 9, 'a ping arrives');
    ok $dt > 0.7 && $dt < 2.5 * $F or print "# first ping after $dt s\n";
    $c->send_pong($f ? $f->{payload} : '');
    # answered: the next ping comes, the connection stays open
    $f = $c->read_frame(timeout => 5 * $F);
    ok t_cmp($f ? $f->{opcode} : 'none', 9, 'a second ping after the pong');
    $c->send_pong($f ? $f->{payload} : '');
    $c->send_text('still here');
    $f = $c->read_frame(timeout => 5 * $F);
    $f = $c->read_frame(timeout => 5 * $F) while $f && $f->{opcode} == 9;
    ok t_cmp($f ? $f->{payload} : undef, 'still here', 'echo still works');
    $c->send_close(1000);
    $c->read_until_close(timeout => 5);
});

case(2, 'no ping while the client keeps talking', sub {
    my $c = WSClient->connect(path => '/to-ping');
    my $pings = 0;
    my $echoes = 0;
    for my $i (1 .. 8) {
        $c->send_text("m$i");
        my $f = $c->read_frame(timeout => 5 * $F) or last;
        $f->{opcode} == 9 ? $pings++ : $echoes++;
        sleep 0.3;
    }
    ok t_cmp($pings, 0, 'no ping within 2.4 s of steady traffic');
    ok t_cmp($echoes, 8, 'every message echoed');
    $c->send_close(1000);
    $c->read_until_close(timeout => 5);
});

case(4, 'an unanswered ping ends the connection with 1011', sub {
    my $mark = log_mark();
    my $c = WSClient->connect(path => '/to-ping');
    my $t0 = time;
    my $f = $c->read_frame(timeout => 5 * $F);
    ok t_cmp($f ? $f->{opcode} : 'none', 9, 'ping');
    # no pong, nothing at all: the server gives up after the deadline
    my $r = $c->read_until_close(timeout => 5 * $F);
    my $dt = time - $t0;
    ok t_cmp($r->{code}, 1011, 'close 1011');
    ok $r->{eof} && $dt < 4 * $F or print "# closed after $dt s\n";
    ok wait_log($mark, qr/no answer to a ping/, 3);
});

# ---- idle timeout -----------------------------------------------------
case(4, 'WebSocketIdleTimeout closes with 1001', sub {
    my $c = WSClient->connect(path => '/to-idle');
    $c->send_text('one');
    my $f = $c->read_frame(timeout => 5 * $F);
    ok t_cmp($f ? $f->{payload} : undef, 'one', 'echo');
    my $t0 = time;
    my $r = $c->read_until_close(timeout => 6 * $F, reply => 1);
    my $dt = time - $t0;
    ok t_cmp($r->{code}, 1001, 'close 1001 (going away)');
    ok $dt > 1.2 && $dt < 3.5 * $F or print "# idle close after $dt s\n";
    ok $r->{eof};    # TCP closed after the closing handshake
});

# ---- send timeout: a client that stops reading --------------------------
case(2, 'a client that stops reading is cut off after WebSocketSendTimeout',
sub {
    my $c = WSClient->connect(path => '/to-send');
    my $msg = 'x' x (1024 * 1024);
    my ($t_last, $sent) = (time, 0);
    # the echoes fill both socket buffers; the server's write then blocks
    # and gives up after 1 s, closing the connection: our writes fail
    my $deadline = time + 30 * $F;
    while (time < $deadline) {
        my $bytes = WSClient::encode_frame(opcode => 2, payload => $msg);
        last unless $c->send_raw($bytes);
        $sent++;
        $t_last = time;
    }
    print "# $sent MiB were taken before the server gave up\n";
    ok $sent < 256;
    # a second connection was never affected
    my $d = WSClient->connect(path => '/echo');
    $d->send_text('fine');
    my $f = $d->read_frame(timeout => 5);
    ok t_cmp($f ? $f->{payload} : undef, 'fine', 'others still served');
    $d->send_close(1000);
    $d->read_until_close(timeout => 5);
});

# ---- graceful restart: 1001 to the old generation's connections --------
case(5, 'graceful restart sends 1001 and new connections work', sub {
    my $pidfile = Apache::Test::vars()->{t_logs} . '/httpd.pid';
    open my $fh, '<', $pidfile or die "$pidfile: $!";
    chomp(my $parent = <$fh>);
    close $fh;
    my $mark = log_mark();
    my @old = children($parent);
    my @c = map { WSClient->connect(path => '/echo') } 1 .. 3;
    $_->send_text('before') for @c;
    $_->read_frame(timeout => 5) for @c;
    kill 'USR1', $parent;                      # apachectl -k graceful
    my @codes = map {
        my $r = $_->read_until_close(timeout => 10 * $F, reply => 1);
        $r->{code} // 'none'
    } @c;
    ok t_cmp("@codes", '1001 1001 1001', 'every connection got 1001');
    # the administrator is told why the clients went (one line per child)
    my $told = 0;
    $told += $_ for log_since($mark) =~
        /WS00114: this process is stopping: closing (\d+) /g;
    ok t_cmp($told, 3, 'the error log names the 3 closed WebSockets');
    # the new generation is up.  An old child accepts no new connection
    # once it has been told to stop, but one accepted just before that is
    # closed with 1001 like the others: the restart is done when the old
    # generation has exited.
    my $up = wait_log($mark, qr/resuming normal operations/, 10 * $F);
    my %old = map { $_ => 1 } @old;
    my $until = time + 10 * $F;
    sleep 0.1 while time < $until && grep { $old{$_} } children($parent);
    my @left = grep { $old{$_} } children($parent);
    print "# old children still there: @left\n" if @left;
    ok $up && !@left;
    my $n = WSClient->connect(path => '/echo');
    ok t_cmp($n->status, 101, 'reconnect: 101');
    $n->send_text('after');
    my $f = $n->read_frame(timeout => 5);
    ok t_cmp($f ? $f->{payload} : undef, 'after', 'reconnect: echo');
    $n->send_close(1000);
    $n->read_until_close(timeout => 5);
});

plan tests => ncases(), need_module 'mod_websocket.c';
run_cases();
