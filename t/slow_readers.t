# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# A client that stops reading delays no other connection's pings.
# 50 idle connections on /fair-echo (WebSocketPingInterval 1) answer
# every ping at once, so each gets a ping about every second; the test
# records when each ping arrives.  Then 8 clients with a small receive
# buffer stop reading while the server has a lot to send them: 4 send
# 1 MiB messages to the echo plugin until the server takes no more
# input, 4 make a plugin thread send 64 KiB messages (/fair-slow, mode
# slow of t/plugins/ws_test_threads.c).  Their sockets are checked to be
# full and stalled (the client's receive queue and the server's send
# queue, from /proc/net/tcp, unchanged over a second and over the whole
# measurement).  Over 10 s next to them, no idle connection may wait
# more than 1.8 s (x the slow factor) for a ping; the same figure is
# measured first without them.  Whatever serves many connections (the
# asynchronous driver's timer thread, say) must not block on the stuck
# ones.  Locations in t/conf/slow_readers.conf.in; the driver is the
# suite's.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Errno qw(EAGAIN EINTR);
use Fcntl qw(F_GETFL F_SETFL O_NONBLOCK);
use IO::Select ();
use Socket qw(PF_INET SOCK_STREAM SOL_SOCKET SO_RCVBUF SO_LINGER
              pack_sockaddr_in unpack_sockaddr_in inet_aton);
use Time::HiRes qw(time sleep);
use Apache::Test qw(plan ok need_module);
use Apache::TestRequest ();
use Apache::TestUtil qw(t_cmp);
use WSClient;
use WSTest qw(log_mark log_since wait_log count_log bound);
use WSMem qw(slow_factor);

plan tests => 10, need_module 'mod_websocket.c';

$SIG{PIPE} = 'IGNORE';

my $F = slow_factor();
my $N_IDLE = 50;
my $N_ECHO = 4;            # stuck clients of the echo plugin
my $N_SLOW = 4;            # stuck clients of a sending plugin thread
my $MAX_GAP = 1.8 * $F;    # seconds an idle connection may wait for a ping
my $WINDOW = 10;           # seconds measured next to the stuck clients
my ($port) = Apache::TestRequest::hostport() =~ /:(\d+)$/;
my $mark = log_mark();

# ---- idle connections: answer every ping, note when it came -----------

my @idle = map { WSClient->connect(path => '/fair-echo') } 1 .. $N_IDLE;
my %slot = map { fileno($idle[$_]->sock) => $_ } 0 .. $#idle;
my $sel = IO::Select->new(map { $_->sock } @idle);
my @pings = map { [] } @idle;    # arrival times, per connection
my ($other, $gone) = (0, 0);     # frames that are not pings; EOFs
my %closed;

ok t_cmp(scalar(grep { $_->status == 101 } @idle), $N_IDLE,
         "$N_IDLE idle connections: 101");

# answers pings for $secs seconds; $tick->() runs between two rounds
# (and ends the wait early by returning true)
sub pump {
    my ($secs, $tick) = @_;
    my $end = time + $secs;
    while ((my $left = $end - time) > 0) {
        for my $s ($sel->can_read($left < 0.02 ? $left : 0.02)) {
            my $i = $slot{ fileno $s };
            my $c = $idle[$i];
            while (my $f = $c->read_frame(timeout => 0.001)) {
                if ($f->{opcode} == 9) {
                    push @{ $pings[$i] }, time;
                    $c->send_pong($f->{payload});
                }
                else {
                    $other++;
                }
            }
            if ($c->eof && !$closed{$i}++) {
                $gone++;
                $sel->remove($s);
            }
        }
        return 1 if $tick && $tick->();
    }
    0;
}

# the longest wait for a ping over [$t0, $t1] (edges included: a
# connection without any ping waits the whole window), which connection,
# how many pings, the median and 99th percentile of the gaps between two
# pings
sub gaps {
    my ($t0, $t1) = @_;
    my ($max, $who, $n, @between) = (0, -1, 0);
    for my $i (0 .. $#pings) {
        my @t = grep { $_ >= $t0 && $_ <= $t1 } @{ $pings[$i] };
        $n += @t;
        push @between, map { $t[$_] - $t[$_ - 1] } 1 .. $#t;
        my @p = ($t0, @t, $t1);
        for (1 .. $#p) {
            ($max, $who) = ($p[$_] - $p[$_ - 1], $i)
                if $p[$_] - $p[$_ - 1] > $max;
        }
    }
    @between = sort { $a <=> $b } @between;
    my $q = sub { @between ? $between[int($_[0] * $#between)] : -1 };
    ($max, $who, $n, $q->(0.5), $q->(0.99));
}

sub report {
    my ($what, $max, $who, $n, $med, $p99) = @_;
    printf "# %s: %d pings to %d connections; between two pings: median "
         . "%.3f s, 99%% %.3f s; longest wait %.3f s (connection %d)\n",
        $what, $n, $N_IDLE, $med, $p99, $max, $who;
}

# ---- 1. baseline: the idle connections alone ---------------------------
pump(1.5);    # every connection has had its first ping
my $b0 = time;
pump(4);
my @base = gaps($b0, time);
report('alone', @base);
ok t_cmp(bound($base[0], '<', $MAX_GAP), "< $MAX_GAP",
         'alone: longest wait for a ping, in seconds');

# ---- 2. clients that stop reading ---------------------------------------

# /proc/net/tcp: "local port:remote port" => [send queue, receive queue]
# (the Send-Q and Recv-Q of ss -tn), IPv4 loopback only
sub tcp_queues {
    my %q;
    open my $fh, '<', '/proc/net/tcp' or return \%q;
    <$fh>;
    while (<$fh>) {
        my @f = split;
        my ($lp) = $f[1] =~ /:([0-9A-F]+)$/;
        my ($rp) = $f[2] =~ /:([0-9A-F]+)$/;
        my ($tx, $rx) = map { hex } split /:/, $f[4];
        $q{ hex($lp) . ':' . hex($rp) } = [$tx, $rx];
    }
    \%q;
}

# a WebSocket on a raw socket whose receive buffer is set small before
# connect(); non-blocking after the 101
sub stuck_client {
    my ($kind, $path) = @_;
    socket(my $fh, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
    setsockopt($fh, SOL_SOCKET, SO_RCVBUF, pack('i', 4096))
        or die "SO_RCVBUF: $!";
    connect($fh, pack_sockaddr_in($port, inet_aton('127.0.0.1')))
        or die "connect: $!";
    binmode $fh;
    my $tag = sprintf 'slow-rd-%d-%s-%d', $$, $kind, fileno $fh;
    my $req = "GET $path HTTP/1.1\r\nHost: localhost:$port\r\n"
            . "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            . 'Sec-WebSocket-Key: ' . WSClient::random_key() . "\r\n"
            . "Sec-WebSocket-Version: 13\r\nX-Tag: $tag\r\n\r\n";
    syswrite $fh, $req;
    my $head = '';
    my $s = IO::Select->new($fh);
    my $deadline = time + 5 * $F;
    while ($head !~ /\r\n\r\n/ && time < $deadline) {
        $s->can_read($deadline - time) or last;
        sysread($fh, $head, 1, length $head) or last;   # not a byte more
    }
    my ($status) = $head =~ m{^HTTP/1\.1 (\d{3})};
    fcntl $fh, F_SETFL, fcntl($fh, F_GETFL, 0) | O_NONBLOCK;
    my ($cport) = unpack_sockaddr_in(getsockname $fh);
    { fh => $fh, kind => $kind, tag => $tag, status => $status // 0,
      cport => $cport, out => '', sent => 0, moved => time };
}

my @stuck = ((map { stuck_client('echo', '/fair-echo') } 1 .. $N_ECHO),
             (map { stuck_client('slow', '/fair-slow') } 1 .. $N_SLOW));
ok t_cmp(join(' ', map { $_->{status} } @stuck),
         join(' ', (101) x @stuck), 'the clients that stop reading: 101');

# the echo ones send 1 MiB messages until the server takes nothing for a
# second (it is stuck writing the echoes); the slow ones say 'go' once
my $big = WSClient::encode_frame(opcode => 2, payload => 'x' x (1 << 20));
for my $c (grep { $_->{kind} eq 'slow' } @stuck) {
    $c->{out} = WSClient::encode_frame(opcode => 1, payload => 'go');
}
my $t_fill = time;
pump(20 * $F, sub {
    my $busy = 0;
    for my $c (@stuck) {
        next if $c->{stalled};
        $c->{out} = $big if $c->{out} eq '' && $c->{kind} eq 'echo';
        if ($c->{out} ne '') {
            my $w = syswrite $c->{fh}, $c->{out}, 1 << 18;
            if (defined $w && $w > 0) {
                substr($c->{out}, 0, $w) = '';
                $c->{sent} += $w;
                $c->{moved} = time;
            }
            elsif (!defined $w && $! != EAGAIN && $! != EINTR) {
                $c->{error} = "$!";
                $c->{stalled} = 1;
                next;
            }
        }
        $c->{stalled} = 1 if $c->{out} eq '' && $c->{kind} eq 'slow'
                             || time - $c->{moved} > 1;
        $busy++ unless $c->{stalled};
    }
    !$busy;
});
printf "# the clients stopped reading after %.1f s\n", time - $t_fill;

# their sockets: what the server sent and the client did not read
# (client Recv-Q), what the server could not send (server Send-Q); full =
# both non-zero and nothing moving for a second
sub queues_of {
    my $q = tcp_queues();
    map { [ ($q->{"$_->{cport}:$port"} || [0, -1])->[1],
            ($q->{"$port:$_->{cport}"} || [-1, 0])->[0] ] } @stuck;
}
pump(1);    # let the last bytes settle
my @qa = queues_of();
pump(1);
my @qb = queues_of();
my @not_full;
for my $i (0 .. $#stuck) {
    my $c = $stuck[$i];
    printf "# %s client %d: sent %d bytes; client Recv-Q %d, server "
         . "Send-Q %d%s\n", $c->{kind}, $c->{cport}, $c->{sent},
        @{ $qb[$i] }, $c->{error} ? " ($c->{error})" : '';
    push @not_full, "$c->{kind} $c->{cport}"
        unless $qb[$i][0] > 0 && $qb[$i][1] > 0
               && "@{ $qa[$i] }" eq "@{ $qb[$i] }";
}
ok t_cmp("@not_full", '',
         'clients whose sockets are not full and stalled (none)');

# ---- 3. the idle connections next to them ------------------------------
my $w0 = time;
pump($WINDOW);
my @with = gaps($w0, time);
report("next to $N_ECHO + $N_SLOW clients that do not read", @with);
my @qc = queues_of();
my @moved = map { "$stuck[$_]{kind} $stuck[$_]{cport}" }
            grep { "@{ $qb[$_] }" ne "@{ $qc[$_] }" } 0 .. $#stuck;
ok t_cmp("@moved", '',
         'stuck clients whose queues moved during the measurement (none)');
ok t_cmp("$gone closed, $other other frames", '0 closed, 0 other frames',
         'the idle connections got pings only, and stayed open');
ok t_cmp(bound($with[0], '<', $MAX_GAP), "< $MAX_GAP",
         'next to clients that do not read: longest wait for a ping, '
         . 'in seconds');

# ---- 4. the stuck clients go away (RST); the rest closes normally ------
for my $c (@stuck) {
    setsockopt $c->{fh}, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0);
    close $c->{fh};
}
# the plugin threads of /fair-slow see send() fail, on_disconnect runs
my @slow = grep { $_->{kind} eq 'slow' } @stuck;
my $deadline = time + 10 * $F;
my $ended = 0;
while (time < $deadline) {
    $ended = grep {
        count_log($mark, qr/^ws_test_threads: disconnect tag=\Q$_->{tag}\E /m)
    } @slow;
    last if $ended == @slow;
    pump(0.2);
}
ok t_cmp($ended, scalar @slow,
         '/fair-slow: on_disconnect for every client that went away');
my $clean = 0;
for my $c (@idle) {
    $c->send_close(1000);
    my $r = $c->read_until_close(timeout => 5 * $F);
    $clean++ if ($r->{code} // 0) == 1000 && $r->{eof};
}
ok t_cmp($clean, $N_IDLE, 'the idle connections close with 1000');
my @bad = grep { /\[[\w-]*:?(?:error|crit|alert|emerg)\]/
                 || /exit signal|AH00052|Segmentation fault/ }
          split /\n/, log_since($mark);
print "# $_\n" for @bad[0 .. ($#bad < 9 ? $#bad : 9)];
ok t_cmp(scalar @bad, 0, 'no error-level line, no child died');
