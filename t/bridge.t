# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# SetHandler websocket-bridge (WebSocketBridge): byte-exact relay to a TCP
# and a unix-socket echo backend in both directions at once, under both
# drivers, over wss:// and HTTP/2; the subprotocol answers; memory
# bounded when either side stops reading; 502 before the 101 for a
# backend that refuses, 504 after WebSocketBridgeConnectTimeout for one
# that never accepts; close 1000 when the backend ends; EOF to the
# backend when the client vanishes.  The
# backends are t/tools/bridge-backend, started and stopped here.
# Locations in t/conf/bridge.conf.in.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::IP;
use MIME::Base64 qw(encode_base64 decode_base64);
use POSIX ();
use Time::HiRes qw(time sleep);
use Apache::Test qw(plan ok skip need_module);
use Apache::TestUtil qw(t_cmp);
use Apache::TestRequest qw(GET_BODY);
use WSClient;
use H2Bridge ();
use WSMem qw(mem_skip slow_factor snapshot growth_kb describe);
use WSTest qw(bound tempdir log_mark wait_log);
use Socket qw(AF_INET SOCK_STREAM SOL_SOCKET SO_ERROR inet_aton
              pack_sockaddr_in unpack_sockaddr_in);

plan tests => 36, need_module 'mod_websocket.c';

my $F   = slow_factor();
my $dir = tempdir();
chmod 0777, $dir;    # httpd's children connect to the unix socket
my @pids;

# starts a backend; returns its port (tcp) or path (unix)
sub backend {
    my ($mode, $where) = @_;
    my $ready = "$dir/$mode-" . scalar(@pids) . '.ready';
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        { exec $^X, "$FindBin::Bin/tools/bridge-backend", $mode, $where,
               $ready, 300 * $F; }
        POSIX::_exit(127);
    }
    push @pids, $pid;
    my $end = time + 10;
    sleep 0.05 until -e $ready || time > $end;
    open my $fh, '<', $ready or die "backend $mode did not start";
    chomp(my $at = <$fh>);
    ($at, $ready);
}

END {
    local $?;    # the test's exit status, not the backends'
    kill 'TERM', @pids if @pids;
    waitpid $_, 0 for @pids;
}

sub bridged {
    my ($path, $header, $value, %a) = @_;
    WSClient->connect(path => $path, headers => [$header => $value], %a);
}

# Writes @msgs (binary) from a child process while the parent reads the
# echo: returns the bytes that came back, up to $total.
sub relay {
    my ($c, $total, @msgs) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        $c->send_binary($_) for @msgs;
        POSIX::_exit(0);
    }
    my $got = '';
    my $end = time + 60 * $F;
    while (length $got < $total && time < $end) {
        my $f = $c->read_frame(timeout => 10 * $F) or last;
        $got .= $f->{payload} if $f->{opcode} == 2;
    }
    waitpid $pid, 0;
    $got;
}

sub random_bytes { join '', map { chr int rand 256 } 1 .. $_[0] }

# ---- byte-exact relay, TCP and unix ------------------------------------
my ($echo_port) = backend('echo', 'tcp');
my ($echo_path) = backend('echo', "unix:$dir/echo.sock");
for my $t (['tcp', '/bridge', 'X-Bridge-Port', $echo_port],
           ['tcp, blocking driver', '/bridge-blocking', 'X-Bridge-Port',
            $echo_port],
           ['unix', '/bridge-unix', 'X-Bridge-Path', $echo_path]) {
    my ($name, $path, $h, $v) = @$t;
    my $c = bridged($path, $h, $v);
    ok t_cmp($c->status, 101, "$name: 101 once the backend is connected");
    # 1 byte to a few MiB, in messages of many sizes
    my $big  = random_bytes(256 * 1024) x 12;    # 3 MiB
    my @msgs = (random_bytes(1), random_bytes(1000), random_bytes(70000),
                map { substr $big, $_ * 300000, 300000 } 0 .. 10);
    my $sent = join '', @msgs;
    my $got  = relay($c, length $sent, @msgs);
    ok t_cmp(length $got, length $sent, "$name: every byte came back");
    ok $got eq $sent;    # byte-exact, in order
    $c->send_close(1000);
    my $r = $c->read_until_close(timeout => 10 * $F);
    ok t_cmp($r->{code}, 1000, "$name: the client's close is answered");
}

# ---- over TLS and over HTTP/2 -------------------------------------------
sub relay_small {
    my ($name, %a) = @_;
    my $c = bridged('/bridge', 'X-Bridge-Port', $echo_port, %a);
    my @msgs = map { random_bytes($_) } 1, 100, 20000, 150000, 150000;
    my $sent = join '', @msgs;
    my $got = $c->status == 101 ? relay($c, length $sent, @msgs) : '';
    ok t_cmp($c->status . ' ' . ($got eq $sent ? 'same' : 'differ'),
             '101 same', "$name: relayed byte-exact");
}
relay_small('wss', ssl => 1);
SKIP: {
    my $why = H2Bridge::available('h2');
    if ($why) {
        skip($why, 1);
        last SKIP;
    }
    my $b = H2Bridge->start('h2');
    relay_small('HTTP/2', port => $b->port);
    $b->stop;
}

# ---- subprotocols --------------------------------------------------------
{
    my $c = bridged('/bridge', 'X-Bridge-Port', $echo_port,
                    protocols => ['base64', 'binary']);
    ok t_cmp($c->header('Sec-WebSocket-Protocol'), 'binary',
             'binary is answered when offered');
    $c = bridged('/bridge', 'X-Bridge-Port', $echo_port,
                 protocols => ['base64']);
    ok t_cmp($c->header('Sec-WebSocket-Protocol'), 'base64',
             'base64 is answered when binary is not offered');
    $c->send_text(encode_base64("hello\0world", ''));
    my $f = $c->read_frame(timeout => 10 * $F);
    ok t_cmp($f && $f->{opcode} == 1 ? decode_base64($f->{payload}) : undef,
             "hello\0world", 'base64: text frames carry the bytes');
    $c = bridged('/bridge', 'X-Bridge-Port', $echo_port,
                 protocols => ['chat']);
    ok t_cmp($c->header('Sec-WebSocket-Protocol'), undef,
             'no subprotocol for other offers');
    $c->send_text('text is relayed as its bytes');
    $f = $c->read_frame(timeout => 10 * $F);
    ok t_cmp($f ? "$f->{opcode} $f->{payload}" : undef,
             '2 text is relayed as its bytes', 'and answered as binary');
}

# ---- the backend refuses, the target is not valid ----------------------
{
    my $s = IO::Socket::IP->new(LocalHost => '127.0.0.1', LocalPort => 0,
                                Listen => 1) or die;
    my $closed = $s->sockport;
    close $s;
    my $c = bridged('/bridge', 'X-Bridge-Port', $closed);
    ok t_cmp($c->status, 502, 'connection refused: 502 instead of the 101');
    $c = WSClient->connect(path => '/bridge-bad');
    ok t_cmp($c->status, 500, 'a target that is not tcp:// or unix:: 500');
}

# ---- the backend never accepts: 504 after WebSocketBridgeConnectTimeout ---
# A listener with a backlog of 0 whose accept queue one connection fills:
# Linux then drops further SYNs (the client retries them), so a connect
# neither succeeds nor fails -- a backend host that does not answer, on
# loopback.  A probe checks that this kernel does so before the bridge
# is asked; if the probe gets through, the case is skipped.
SKIP: {
    socket(my $l, AF_INET, SOCK_STREAM, 0) or die "socket: $!";
    bind($l, pack_sockaddr_in(0, inet_aton('127.0.0.1'))) or die "bind: $!";
    listen($l, 0) or die "listen: $!";
    my ($port) = unpack_sockaddr_in(getsockname $l);
    # non-blocking connects: the first fills the queue, the next are
    # left without an answer; is the last one still waiting after 1 s?
    my @fill = map {
        IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $port,
                            Blocking => 0) or die "connect: $@";
    } 1 .. 3;
    my $probe = $fill[-1];
    my $w = '';
    vec($w, fileno $probe, 1) = 1;
    my $answered = select(undef, $w, undef, 1);
    if ($answered) {
        my $err = unpack 'i', getsockopt($probe, SOL_SOCKET, SO_ERROR);
        skip("a connect to a full listen queue is answered here "
             . "(SO_ERROR $err): no backend that never accepts", 3);
    }
    my $mark = log_mark();
    my $t0 = time;
    my $c = bridged('/bridge-timeout', 'X-Bridge-Port', $port);
    my $dt = time - $t0;
    ok t_cmp($c->status, 504,
             'a backend that never accepts: 504 instead of the 101');
    ok t_cmp(sprintf('%.1f', $dt) >= 0.9 && $dt < 4 * $F ? 'in time'
             : sprintf('after %.2f s', $dt), 'in time',
             'after WebSocketBridgeConnectTimeout (1 s), not before, '
             . 'not much later');
    ok t_cmp(wait_log($mark, qr/WS00803: [^\n]*127\.0\.0\.1:$port in /
                      . qr/WebSocketBridgeConnectTimeout; answering 504/,
                      5 * $F) ? 'logged' : 'not logged', 'logged',
             'WS00803 says the connect timed out');
    close $_ for @fill;
    close $l;
}

# ---- the backend ends; the client vanishes -------------------------------
{
    my ($bye) = backend('bye', 'tcp');
    my $c = bridged('/bridge', 'X-Bridge-Port', $bye);
    my $r = $c->read_until_close(timeout => 10 * $F, reply => 1);
    my $data = join '', map { $_->{opcode} == 2 ? $_->{payload} : '' }
                        @{ $r->{frames} };
    ok t_cmp($data, "bye\n", "the backend's last bytes arrive");
    ok t_cmp($r->{code}, 1000, 'backend EOF: close 1000');

    my ($eofp, $ready) = backend('eof', 'tcp');
    $c = bridged('/bridge', 'X-Bridge-Port', $eofp);
    $c->send_binary('x');
    sleep 0.2;
    $c->close_socket;
    my $end = time + 10 * $F;
    sleep 0.1 until -e "$ready.eof" || time > $end;
    ok t_cmp(-e "$ready.eof" ? 1 : 0, 1,
             'the client vanishes: the backend sees EOF');
}

# ---- a side that does not read ------------------------------------------
{
    # RSS means nothing under ASan or valgrind: only those asserts skip
    my $why = mem_skip();
    my ($sink)  = backend('sink', 'tcp');
    my ($flood) = backend('flood', 'tcp');
    my $before = snapshot();

    # the backend never reads: the client's 32 MiB must not pile up
    my $c = bridged('/bridge-small', 'X-Bridge-Port', $sink);
    my $chunk = 'y' x 65536;
    my $pid = fork // die;
    if ($pid == 0) {
        $c->send_binary($chunk) for 1 .. 512;
        POSIX::_exit(0);
    }
    # the client does not read: the backend's flood must not pile up
    my $d = bridged('/bridge-small', 'X-Bridge-Port', $flood);
    ok t_cmp($c->status . ' ' . $d->status, '101 101',
             'bridged to a sink and to a flood');
    sleep 3;
    my $after = snapshot();
    my $g = growth_kb($before, $after);
    print '# RSS before: ', describe($before), "\n# after: ",
          describe($after), "\n";
    if ($why) {
        skip($why, 1);
    }
    else {
        ok t_cmp(bound($g, '<', 16384), '< 16384',
                 'server memory grows by less than 16 MiB (kB)');
    }

    # another bridged connection is not affected
    my $e = bridged('/bridge', 'X-Bridge-Port', $echo_port);
    $e->send_binary('still here');
    my $f = $e->read_frame(timeout => 5 * $F);
    ok t_cmp($f ? $f->{payload} : undef, 'still here',
             'another bridged connection still echoes');
    sleep 2;
    $g = growth_kb($before, snapshot());
    if ($why) {
        skip($why, 1);
    }
    else {
        ok t_cmp(bound($g, '<', 16384), '< 16384',
                 'two seconds later still bounded (kB)');
    }
    kill 'KILL', $pid;
    waitpid $pid, 0;
    $c->close_socket;
    $d->close_socket;

    # asynchronous driver: a worker waits for such a backend at most
    # WebSocketSendTimeout (2 s here), then the connection ends with 1011
    # (the blocking driver waits for the pong timeout instead: README)
    if (!Apache::Test::have_module('mpm_event.c')) {
        skip('the asynchronous driver needs the event MPM', 1);
    }
    else {
        my $s = bridged('/bridge-async-stuck', 'X-Bridge-Port', $sink);
        $pid = fork // die;
        if ($pid == 0) {
            $s->send_binary($chunk) for 1 .. 512;
            POSIX::_exit(0);
        }
        my $t0 = time;
        my $r = $s->read_until_close(timeout => 20 * $F);
        my $took = time - $t0;
        print "# closed after ${took}s\n";
        ok t_cmp($r->{code}, 1011,
                 'async: a backend that takes nothing: 1011 after the send '
                 . 'timeout');
        kill 'KILL', $pid;
        waitpid $pid, 0;
    }
    $e->send_close(1000);
    my $r = $e->read_until_close(timeout => 10 * $F);
    ok t_cmp($r->{code}, 1000, 'and closes normally');
}

# ---- idle bridged connections hold no worker thread --------------------
SKIP: {
    unless (Apache::Test::have_module('mod_status.c')
            && Apache::Test::have_module('mpm_event.c')) {
        skip('needs mod_status and the event MPM', 1) for 1 .. 3;
        last SKIP;
    }
    my $busy = sub {
        my ($n) = GET_BODY('/server-status?auto') =~ /^BusyWorkers: (\d+)$/m;
        $n // -1;
    };
    my $base = $busy->();
    my @c = map { bridged('/bridge-async', 'X-Bridge-Port', $echo_port) }
            1 .. 100;
    $_->send_binary('hi') for @c;
    my $echoed = grep { my $f = $_->read_frame(timeout => 10 * $F);
                        $f && $f->{payload} eq 'hi' } @c;
    ok t_cmp($echoed, 100, '100 bridged connections echo');
    sleep 0.5;
    my $now = $busy->();
    print "# busy workers: $base before, $now with 100 idle bridged\n";
    ok t_cmp(bound($now - $base, '<=', 2), '<= 2',
             'busy workers added by 100 idle bridged connections');
    # parked, both sides still served: the backend's answer reaches the
    # client through the loop
    $_->send_binary('again') for @c[0 .. 9];
    my $again = grep { my $f = $_->read_frame(timeout => 10 * $F);
                       $f && $f->{payload} eq 'again' } @c[0 .. 9];
    ok t_cmp($again, 10, 'parked bridged connections still echo');
    $_->close_socket for @c;
}
