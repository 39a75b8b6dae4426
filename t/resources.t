# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# Resources as a user notices them: big messages come back intact; the
# server's memory stays flat over many messages on one connection (the
# 0.1.2 module grew by about one byte per byte received) and over many
# connections; a frame header declaring a huge length does not make the
# server allocate that length up front (SPEC.md sections 4 and 6).
# Memory is RssAnon (resident anonymous memory) of httpd's children from
# /proc (t/lib/WSMem.pm); the echo plugin on /echo (t/conf/extra.conf.in)
# does the work.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Errno qw(EINTR EAGAIN);
use IO::Select ();
use POSIX ();
use Time::HiRes qw(time sleep);
use Apache::Test qw(plan ok skip need_module);
use Apache::TestRequest ();
use Apache::TestUtil qw(t_cmp);
use WSClient;
use WSTest qw(case ncases run_cases log_mark log_since);
use WSMem qw(snapshot growth_kb rss_kb child_of describe mem_skip
             slow_factor);

# RSS is meaningless under ASan/valgrind (those asserts are skipped); under
# valgrind the workloads shrink tenfold and every bound stretches
my $F = slow_factor();
my $SCALE = $ENV{WS_HTTPD_VALGRIND} ? 10 : 1;

my $start_mark = log_mark();
my ($port) = Apache::TestRequest::hostport() =~ /:(\d+)$/;

sub echo_conn { WSClient->connect(path => '/echo', port => $port, @_) }

sub bye {
    my $c = shift;
    $c->send_close(1000);
    $c->read_until_close(timeout => 5);
}

# ---- big messages ---------------------------------------------------------
# 64 KiB blocks, each starting with its index: a lost, repeated or
# reordered block shows
my $rand = join '', map { chr int rand 256 } 1 .. 65536;
sub binary_of {
    my $mib = shift;
    join '', map { pack('N', $_) . substr($rand, 4) } 0 .. $mib * 16 - 1;
}
sub text_of {    # valid UTF-8 of exactly $mib MiB
    my $mib = shift;
    my $unit = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x82\xac \xf0\x9d\x84\x9e \xc3\xb1 ";
    my $want = $mib * 1024 * 1024;
    my ($s, $i) = ('', 0);
    $s .= sprintf('[%07d] ', $i++) . ($unit x 100) while length $s < $want - 4096;
    $s . ('a' x ($want - length $s));
}

sub echo_big {
    my ($opcode, $payload) = @_;
    my $c = echo_conn(timeout => 10);
    return 'status ' . $c->status unless $c->status == 101;
    my $t0 = time;
    $c->send_frame(opcode => $opcode, payload => $payload);
    my $f = $c->read_frame(timeout => 30 * $F);
    my $r = !$f                              ? 'no frame'
          : $f->{opcode} != $opcode          ? "opcode $f->{opcode}"
          : !$f->{fin}                       ? 'not one frame'
          : length $f->{payload} != length $payload
                                             ? 'length ' . length $f->{payload}
          : $f->{payload} ne $payload        ? 'content differs'
          :                                    'intact';
    printf "# %d bytes: %s in %.2f s\n", length $payload, $r, time - $t0;
    my $end = bye($c);
    $r .= ', close ' . ($end->{code} // 'none') unless ($end->{code} // 0) == 1000;
    $r;
}

case(4, 'messages up to 16 MiB echoed intact', sub {
    for my $mib (1, 4, 16) {
        ok t_cmp(echo_big(2, binary_of($mib)), 'intact', "$mib MiB binary");
    }
    ok t_cmp(echo_big(1, text_of(16)), 'intact', '16 MiB text');
});

# ---- many messages on one connection ----------------------------------------
# The client writes fixed-size text messages from a child process while
# this process reads the echoes and compares them batch by batch with
# what they must be (a pipelined flood, not one round trip per message).
my $PL = 100;                       # payload bytes per message
my $pad = 'x' x ($PL - 10);
my $BATCH = 1000;

sub pump {
    my ($c, $from, $count, $secs) = @_;
    my $sock = $c->sock;
    my $writer = fork;
    die "fork: $!" unless defined $writer;
    if ($writer == 0) {
        for (my $i = $from; $i < $from + $count; $i += $BATCH) {
            my $end = $i + $BATCH < $from + $count ? $i + $BATCH
                                                   : $from + $count;
            my $out = join '', map {
                "\x81" . chr(0x80 | $PL) . "\0\0\0\0" . sprintf('%010d', $_)
                . $pad } $i .. $end - 1;
            my $off = 0;
            while ($off < length $out) {
                my $n = syswrite $sock, $out, length($out) - $off, $off;
                unless (defined $n) {
                    next if $! == EINTR || $! == EAGAIN;
                    POSIX::_exit(1);
                }
                $off += $n;
            }
        }
        POSIX::_exit(0);
    }
    my $deadline = time + $secs;
    my $sel = IO::Select->new($sock);
    my $buf = $c->pending;
    $c->{buf} = '';
    my $got = 0;
    my $err = '';
    my $next = $from;
    my $expect = '';
    while ($next < $from + $count || length $expect) {
        if ($expect eq '') {
            my $end = $next + $BATCH < $from + $count ? $next + $BATCH
                                                      : $from + $count;
            $expect = join '', map {
                "\x81" . chr($PL) . sprintf('%010d', $_) . $pad } $next .. $end - 1;
            $next = $end;
        }
        if (length $buf >= length $expect) {
            if (substr($buf, 0, length $expect) ne $expect) {
                $err = "echoes differ after message " . ($from + $got);
                last;
            }
            substr($buf, 0, length $expect) = '';
            $got += length($expect) / ($PL + 2);
            $expect = '';
            next;
        }
        my $left = $deadline - time;
        if ($left <= 0) {
            $err = "timeout after $got echoes";
            last;
        }
        next unless $sel->can_read($left > 1 ? 1 : $left);
        my $n = sysread $sock, $buf, 262144, length $buf;
        if (!defined $n) {
            next if $! == EINTR || $! == EAGAIN;
            $err = "read error after $got echoes: $!";
            last;
        }
        if ($n == 0) {
            $err = "EOF after $got echoes";
            last;
        }
    }
    $c->{buf} = $buf;    # anything beyond the echoes stays for WSClient
    if ($err) {
        kill 'TERM', $writer;
    }
    waitpid $writer, 0;
    $err || ($? ? "writer failed ($?)" : '') || 'ok';
}

case(3, 'memory flat over 200,000 messages on one connection', sub {
    my $c = echo_conn();
    ok t_cmp($c->status, 101, 'echo: 101');
    my $pid = child_of($c->sock);
    print "# serving child: ", $pid // 'not found', "\n";
    my $t0 = time;
    my ($nwarm, $n) = (20_000 / $SCALE, 200_000 / $SCALE);
    my $warm = pump($c, 0, $nwarm, 20 * $F);
    sleep 0.5;
    my $r0 = defined $pid ? rss_kb($pid) : undef;
    my $t1 = time;
    my $res = $warm eq 'ok' ? pump($c, $nwarm, $n, 60 * $F)
                            : "warm-up: $warm";
    my $t2 = time;
    sleep 0.5;
    my $r1 = defined $pid ? rss_kb($pid) : undef;
    printf "# warm-up %.2f s, %d messages (%.1f MB each way) %.2f s\n",
        $t1 - $t0, $n, $n * ($PL + 6) / 1e6, $t2 - $t1;
    ok t_cmp($res, 'ok', 'all echoes came back, in order and intact');
    if (mem_skip()) {
        skip(mem_skip(), 1);
    }
    elsif (defined $r0 && defined $r1) {
        printf "# child %d: RssAnon %d kB -> %d kB (%+d kB)\n", $pid, $r0, $r1,
            $r1 - $r0;
        ok $r1 - $r0 < 2048;
    }
    else {
        print "# no RSS figures\n";
        ok 0;
    }
    bye($c);
});

# ---- many connections ---------------------------------------------------------
sub cycles {
    my ($n) = @_;
    my $bad = 0;
    for my $i (1 .. $n) {
        my $c = eval { echo_conn(timeout => 5) };
        unless ($c && $c->status == 101) {
            $bad++;
            next;
        }
        $c->send_text("hello $i");
        my $f = $c->read_frame(timeout => 5);
        $bad++ unless $f && $f->{payload} eq "hello $i";
        my $r = bye($c);
        $bad++ unless $r->{eof} && ($r->{code} // 0) == 1000;
    }
    $bad;
}

case(2, 'memory flat over 2,000 connections', sub {
    my $t0 = time;
    my $bad = cycles(200 / $SCALE);
    sleep 0.3;
    my $before = snapshot();
    my $t1 = time;
    $bad += cycles(2000 / $SCALE);
    my $t2 = time;
    sleep 0.5;
    my $after = snapshot();
    printf "# warm-up %.2f s, %d connections %.2f s\n", $t1 - $t0,
        2000 / $SCALE, $t2 - $t1;
    print "# before: ", describe($before), "\n# after:  ", describe($after), "\n";
    ok t_cmp($bad, 0, 'every connection: 101, echo, close 1000');
    my $g = growth_kb($before, $after);
    print "# growth: $g kB\n";
    mem_skip() ? skip(mem_skip(), 1) : ok $g < 2048;
});

# ---- declared length is not allocated up front ---------------------------------
case(4, 'a header declaring 30,000,000 bytes costs no 30 MB', sub {
    my $frame = WSClient::encode_frame(opcode => 2, length => 30_000_000,
                                       payload => 'z' x 1000);
    sleep 0.3;
    my $before = snapshot();
    my @c;
    my $refused = '';
    my $t0 = time;
    for my $i (1 .. 50) {
        my $c = eval { echo_conn(pipeline => $frame, timeout => 3) };
        if (!$c || $c->status != 101) {
            $refused = sprintf 'connection %d: %s after %.1f s', $i,
                $c ? 'status ' . $c->status : 'no connection', time - $t0;
            push @c, $c if $c;
            last;
        }
        push @c, $c;
    }
    my $open = grep { $_->status == 101 } @c;
    print "# $refused\n" if $refused;
    ok t_cmp($open, 50, '50 connections with a 30 MB frame pending');
    sleep 1;
    my $after = snapshot();
    print "# before: ", describe($before), "\n# after:  ", describe($after), "\n";
    my $g = growth_kb($before, $after);
    printf "# %d connections x 30,000,000 bytes declared: growth %d kB\n",
        $open, $g;
    mem_skip() ? skip(mem_skip(), 1) : ok $open > 0 && $g < 50 * 1024;
    # none of them was failed meanwhile: the server waits for the rest
    my $closed = grep { $_->status == 101
                        && ($_->read_frame(timeout => 0.01) || $_->eof) } @c;
    ok t_cmp($closed, 0, 'the connections stay open, waiting for payload');
    $_->close_socket for @c;
    @c = ();
    sleep 0.5;
    my $c = echo_conn();
    my $ok = $c->status == 101 && $c->send_text('still here')
        && ($c->read_frame(timeout => 5) || {})->{payload};
    ok t_cmp($ok // '', 'still here', 'the server still echoes afterwards');
    bye($c) if $c->status == 101;
});

# under a 1 TiB limit a header may declare 512 GiB: allocating that up
# front fails, and the connection with it
case(2, 'a header declaring 512 GiB under a 1 TiB limit', sub {
    my $frame = WSClient::encode_frame(opcode => 2, length => 2**39,
                                       payload => 'z' x 1000);
    my $c = WSClient->connect(path => '/huge-limit', port => $port,
                              pipeline => $frame);
    ok t_cmp($c->status, 101, '101');
    my $f = $c->read_frame(timeout => 1.5);
    ok t_cmp($f ? "frame $f->{opcode}" . (defined $f->{code}
                                          ? " code $f->{code}" : '')
                : $c->eof ? 'closed' : 'waiting',
             'waiting', 'the server waits for the payload');
    $c->close_socket;
});

case(1, 'no httpd child crashed', sub {
    my $log = log_since($start_mark);
    my @crash = $log =~ /^(.*(?:exit signal|AH00052|Segmentation|Aborted|out of memory).*)$/mg;
    print "# $_\n" for @crash[0 .. ($#crash < 4 ? $#crash : 4)];
    ok t_cmp(scalar @crash, 0, 'no child died, no allocation failed');
});

plan tests => ncases(), need_module 'mod_websocket.c';
run_cases();
