# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# send() and close() from plugin threads (SPEC.md section 1, and the
# defects of section 6: deadlock with 17 or more concurrent senders,
# self-deadlock when on_connect sends, a slow client stalling others, no
# close-wait timeout), and "on_disconnect exactly once per accepted
# connection, whatever ended it"; send() and close() to a connection
# whose on_disconnect waits for the plugin's lock.  Driven through
# t/plugins/ws_test_threads.c (modes documented at its top),
# t/plugins/ws_test_lock.c and the locations of t/conf/threads.conf.in.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Time::HiRes qw(time sleep);
use Apache::Test qw(plan ok skip need_module);
use Apache::TestUtil qw(t_cmp);
use WSClient;
use WSTest qw(case ncases run_cases log_mark log_since wait_log count_log);
use WSMem qw(snapshot rss_kb child_of mem_skip slow_factor);

# timing bounds stretch under valgrind/ASan
my $F = slow_factor();

my $start_mark = log_mark();
my $tagn = 0;
sub newtag { sprintf 'thr-%d-%d', $$, ++$tagn }

sub conn {
    my ($path, $tag, %a) = @_;
    WSClient->connect(path => $path, headers => ['X-Tag' => $tag], %a);
}

sub disc_re {
    my $tag = shift;
    qr/^ws_test_threads: disconnect tag=\Q$tag\E mode=\S+$/m;
}

# waits for the on_disconnect line of $tag, then makes sure no second one
# follows; returns how many there are
sub disconnects {
    my ($mark, $tag, $secs) = @_;
    wait_log($mark, disc_re($tag), $secs || 10);
    sleep 0.3;
    count_log($mark, disc_re($tag));
}

# reads frames until a close frame (returned), EOF or the deadline
# (undef); $cb sees every frame, the close frame too
sub read_all {
    my ($c, $secs, $cb) = @_;
    my $deadline = time + $secs;
    while ((my $left = $deadline - time) > 0) {
        my $f = $c->read_frame(timeout => $left) or return undef;
        $cb->($f);
        return $f if $f->{opcode} == 8;
    }
    undef;
}

# a conforming client answers the server's close; then the server closes
# TCP and nothing follows the close frame
sub finish_close {
    my $c = shift;
    $c->send_close(1000);
    my $eof = $c->wait_eof(timeout => 5);
    my $left = $c->{trailing_bytes} . $c->pending;
    $eof && $left eq '' ? 'eof, nothing after the close'
                        : "eof=$eof, " . length($left) . ' bytes after close';
}

sub well_formed_text {
    my $f = shift;
    $f->{opcode} == 1 && $f->{fin} && !$f->{rsv} && !$f->{masked};
}

# ---- 10 threads x 1000 messages, then close 1000 --------------------------
case(8, '10 threads x 1000 text messages', sub {
    my $tag = newtag();
    my $mark = log_mark();
    my $c = conn('/threads', $tag);
    ok t_cmp($c->status, 101, 'threads: 101');
    my %next;
    my ($bad, $disorder, $n, @badx) = (0, 0, 0);
    my $t0 = time;
    my $close = read_all($c, 30 * $F, sub {
        my $f = shift;
        return if $f->{opcode} == 8;
        my ($t, $i) = well_formed_text($f)
            ? $f->{payload} =~ /^T(\d) (\d{1,3})$/ : ();
        unless (defined $t) {
            $bad++;
            push @badx, substr($f->{payload}, 0, 40) if @badx < 3;
            return;
        }
        $n++;
        $disorder++ if $i != ($next{$t} || 0);
        $next{$t} = $i + 1;
    });
    printf "# %d frames in %.2f s\n", $n, time - $t0;
    print "# malformed: @badx\n" if @badx;
    ok t_cmp($bad, 0, 'every frame a whole, well-formed text message');
    ok t_cmp($disorder, 0, 'each thread\'s messages in call order');
    ok t_cmp($n, 10000, 'all 10 x 1000 messages arrived');
    ok t_cmp($close ? $close->{code} : 'no close frame', 1000,
             'then the close frame with 1000');
    ok t_cmp(finish_close($c), 'eof, nothing after the close',
             'TCP closed after the closing handshake');
    ok wait_log($mark, qr/^ws_test_threads: threads tag=\Q$tag\E ok=10000 fail=0$/m, 5);
    ok t_cmp(disconnects($mark, $tag), 1, 'on_disconnect once');
});

# ---- 64 concurrent senders while the client sends too -----------------------
sub pattern_size {
    my ($t, $n) = @_;
    3 + ($t * 2654435761 + $n * 40503) % 4094;
}
my $cycle = join '', map { chr($_ & 0xff) } 0 .. 4096 + 255;

case(8, '64 threads x 200 binary messages, client sending meanwhile', sub {
    my $tag = newtag();
    my $mark = log_mark();
    # the first 100 client messages come right behind the request, so
    # they meet the plugin threads from the start; the rest go out one per
    # frame read, then "done" lets the plugin close
    my $c = conn('/senders', $tag,
                 pipeline => join '', map { WSClient::encode_frame(
                     opcode => 1, payload => "E $_") } 0 .. 99);
    ok t_cmp($c->status, 101, 'senders: 101');
    my %next;
    my ($bad, $disorder, $n, $sent, $echoes, $echo_bad, @badx)
        = (0, 0, 0, 100, 0, 0);
    my $between = 0;    # echoes that arrived between two binary frames
    my $t0 = time;
    my $deadline = $t0 + 30 * $F;
    my $close;
    while (time < $deadline) {
        if ($sent < 1000) {
            $c->send_text("E $sent");
            $sent++;
            $c->send_text('done') if $sent == 1000;
        }
        my $f = $c->read_frame(timeout => $sent < 1000 ? 0.002
                                                       : $deadline - time);
        unless ($f) {
            next if $c->timed_out && $sent < 1000;
            last;
        }
        if ($f->{opcode} == 8) {
            $close = $f;
            last;
        }
        if ($f->{opcode} == 1) {
            # an echo: "E <k>", in order
            if (well_formed_text($f) && $f->{payload} eq "E $echoes") {
                $echoes++;
                $between++ if $n > 0 && $n < 12800;
            }
            else {
                $echo_bad++;
            }
            next;
        }
        my $p = $f->{payload};
        my $ok = $f->{opcode} == 2 && $f->{fin} && !$f->{rsv}
                 && !$f->{masked} && length $p >= 3;
        my ($t, $i) = $ok ? unpack('Cn', $p) : (-1, -1);
        $ok &&= $t < 64 && length $p == pattern_size($t, $i)
                && substr($p, 3) eq substr($cycle, ($t * 131 + $i * 7 + 3)
                                           & 0xff, length($p) - 3);
        unless ($ok) {
            $bad++;
            push @badx, sprintf('op=%d len=%d t=%d i=%d', $f->{opcode},
                                length $p, $t, $i) if @badx < 3;
            next;
        }
        $n++;
        $disorder++ if $i != ($next{$t} || 0);
        $next{$t} = $i + 1;
    }
    my $secs = time - $t0;
    printf "# %d binary frames, %d echoes of %d sent (%d while the threads "
         . "sent), in %.2f s\n", $n, $echoes, $sent, $between, $secs;
    print "# bad: @badx\n" if @badx;
    ok t_cmp($bad, 0, 'every binary message intact (length and pattern)');
    ok t_cmp("$n/$disorder", '12800/0',
             'all 64 x 200 arrived, each thread in call order');
    ok t_cmp("$echoes/$echo_bad", '1000/0',
             'the client\'s 1000 messages all echoed, in order');
    ok t_cmp($close ? $close->{code} : 'no close frame (deadlock?)', 1000,
             'close 1000 after all senders, no deadlock');
    ok t_cmp(finish_close($c), 'eof, nothing after the close',
             'TCP closed after the closing handshake');
    ok wait_log($mark, qr/^ws_test_threads: senders tag=\Q$tag\E ok=12800 fail=0$/m, 5);
    ok t_cmp(disconnects($mark, $tag), 1, 'on_disconnect once');
});

# ---- plugin threads racing with the connection parking and unparking ------
# 8 threads send 400 binary messages each, pausing 0-8 ms between two
# sends; the client sends 150 messages at random intervals of 0-25 ms (on
# the asynchronous driver a connection without input for 10 ms is parked,
# so most of these pauses park it and the next message unparks it) and
# reads everything meanwhile.  Under ASan this is the stress test of who
# owns the connection's filters: plugin threads writing a parked
# connection themselves, the MPM handing it back to a worker, a worker
# flushing what they queued.
case(8, '8 paced threads x 400 messages while the connection parks and '
     . 'unparks', sub {
    my $tag = newtag();
    my $mark = log_mark();
    my $c = conn('/paced', $tag);
    ok t_cmp($c->status, 101, 'paced: 101');
    my ($want_msgs, $threads, $per) = (150, 8, 400);
    my %next;
    my ($bad, $disorder, $n, $sent, $echoes, $echo_bad, $parks, @badx)
        = (0, 0, 0, 0, 0, 0, 0);
    my $t0 = time;
    my $deadline = $t0 + 30 * $F;
    my ($send_at, $last_sent, $last_bin) = ($t0, $t0, $t0);
    my $close;
    while (time < $deadline) {
        if ($sent < $want_msgs && time >= $send_at) {
            $c->send_text("E $sent");
            $sent++;
            $last_sent = time;
            $c->send_text('done') if $sent == $want_msgs;
            my $pause = rand 0.025;
            $parks++ if $pause > 0.010 && $sent < $want_msgs;
            $send_at = time + $pause;
        }
        my $wait = $sent < $want_msgs ? $send_at - time : $deadline - time;
        my $f = $c->read_frame(timeout => $wait > 0.001 ? $wait : 0.001);
        unless ($f) {
            next if $c->timed_out && time < $deadline;
            last;
        }
        if ($f->{opcode} == 8) {
            $close = $f;
            last;
        }
        if ($f->{opcode} == 1) {
            if (well_formed_text($f) && $f->{payload} eq "E $echoes") {
                $echoes++;
            }
            else {
                $echo_bad++;
            }
            next;
        }
        my $p = $f->{payload};
        my $ok = $f->{opcode} == 2 && $f->{fin} && !$f->{rsv}
                 && !$f->{masked} && length $p >= 3;
        my ($t, $i) = $ok ? unpack('Cn', $p) : (-1, -1);
        $ok &&= $t < $threads && $i < $per
                && length $p == pattern_size($t, $i)
                && substr($p, 3) eq substr($cycle, ($t * 131 + $i * 7 + 3)
                                           & 0xff, length($p) - 3);
        unless ($ok) {
            $bad++;
            push @badx, sprintf('op=%d len=%d t=%d i=%d', $f->{opcode},
                                length $p, $t, $i) if @badx < 3;
            next;
        }
        $n++;
        $disorder++ if $i != ($next{$t} || 0);
        $next{$t} = $i + 1;
        $last_bin = time;
    }
    printf "# %d binary frames (the last after %.2f s), %d echoes of %d "
         . "sent (the last message after %.2f s); %d client pauses longer "
         . "than the 10 ms a busy connection waits before it is parked\n",
        $n, $last_bin - $t0, $echoes, $sent, $last_sent - $t0, $parks;
    print "# bad: @badx\n" if @badx;
    ok t_cmp($bad, 0, 'every binary message intact (length and pattern)');
    ok t_cmp("$n/$disorder", $threads * $per . '/0',
             'all 8 x 400 arrived, each thread in call order');
    ok t_cmp("$echoes/$echo_bad", "$want_msgs/0",
             'the client\'s messages all echoed, in order');
    ok t_cmp($close ? $close->{code} : 'no close frame', 1000,
             'close 1000 after all senders');
    ok t_cmp(finish_close($c), 'eof, nothing after the close',
             'TCP closed after the closing handshake');
    my $log = wait_log($mark, qr/^ws_test_threads: paced tag=\Q$tag\E ok=\d+ fail=\d+$/m, 5);
    my ($line) = ($log // '') =~ /^ws_test_threads: paced tag=\S+ (ok=\d+ fail=\d+)$/m;
    ok t_cmp($line // 'no line', 'ok=' . $threads * $per . ' fail=0',
             'every send() accepted');
    ok t_cmp(disconnects($mark, $tag), 1, 'on_disconnect once');
});

# ---- send() inside on_connect and from a thread during/after it ------------
case(6, 'send from on_connect and from a thread it started', sub {
    my $tag = newtag();
    my $mark = log_mark();
    my $t0 = time;
    my $c = conn('/connect-send', $tag, timeout => 10);
    ok t_cmp($c->status, 101, 'connect-send: 101 (no self-deadlock)');
    printf "# handshake took %.2f s\n", time - $t0;
    my @p;
    my $bad = 0;
    my $close = read_all($c, 20 * $F, sub {
        my $f = shift;
        return if $f->{opcode} == 8;
        $bad++ unless well_formed_text($f);
        push @p, $f->{payload};
    });
    ok t_cmp($p[0], 'from on_connect', 'on_connect\'s message first');
    my $want = join ',', 'from on_connect', map { "C $_" } 0 .. 999;
    my $got = join ',', @p;
    print "# got " . scalar(@p) . " messages\n";
    ok t_cmp($bad, 0) && $got eq $want;
    ok t_cmp($close ? $close->{code} : 'no close frame', 1000,
             'then close 1000');
    ok t_cmp(finish_close($c), 'eof, nothing after the close',
             'TCP closed after the closing handshake');
    ok wait_log($mark, qr/^ws_test_threads: connect_send tag=\Q$tag\E first=15 ok=1000 fail=0$/m, 5)
        && disconnects($mark, $tag) == 1;
});

# ---- header_set/protocol_set from 8 threads at once during on_connect ----
case(3, 'header_set and protocol_set from plugin threads in on_connect', sub {
    my $c = conn('/headers', newtag());
    ok t_cmp($c->status, 101, '101');
    my @missing = grep {
        my ($i, $j) = (int($_ / 20), $_ % 20);
        ($c->header("X-T$i-$j") // '') ne "v$i-$j";
    } 0 .. 159;
    ok t_cmp(scalar(@missing), 0, 'all 160 headers, each with its value');
    ok t_cmp($c->header('Sec-WebSocket-Protocol') // '', qr/^p[0-7]$/,
             'one of the protocols set');
    $c->send_close(1000);
    $c->read_until_close(timeout => 5);
});

# ---- a thread sends while on_connect waits for it, then refuses -----------
case(5, 'send during an on_connect that refuses', sub {
    my $tag = newtag();
    my $mark = log_mark();
    my $t0 = time;
    my $c = conn('/refuse-send', $tag, timeout => 10);
    my $secs = time - $t0;
    ok t_cmp($c->status, 403, 'refused: 403');
    ok $secs < 3 * $F or printf "# the 403 took %.2f s\n", $secs;
    my $eof = $c->wait_eof(timeout => 5);
    ok t_cmp(($c->body // '') . $c->{trailing_bytes} . ($eof ? '|eof' : ''),
             '|eof', 'empty body, no frame, connection closed');
    # accepted for writing while on_connect ran (frames then discarded)
    ok wait_log($mark, qr/^ws_test_threads: refuse tag=\Q$tag\E results=(3,){9}3$/m, 5);
    sleep 0.3;
    ok t_cmp(count_log($mark, disc_re($tag)), 0, 'no on_disconnect');
});

# ---- on_connect waits for a thread that sends more than the queue holds ----
case(4, 'on_connect joins a thread that sends 2 MiB (queue bound 1 MiB)', sub {
    my $tag = newtag();
    my $mark = log_mark();
    my $t0 = time;
    my $c = conn('/connect-join', $tag, timeout => 8);
    my $secs = time - $t0;
    printf "# handshake took %.2f s\n", $secs;
    ok t_cmp($c->status, 101, '101') && $secs < 3 * $F;
    my $log = wait_log($mark, qr/^ws_test_threads: connect_join tag=\Q$tag\E ok=\d+ fail=\d+$/m, 2);
    my ($okn, $failn) = ($log // '') =~ /connect_join tag=\Q$tag\E ok=(\d+) fail=(\d+)/;
    print "# the thread's sends: ", $okn // '?', " accepted, ",
        $failn // '?', " failed\n";
    ok defined $okn && ($okn == 32 || $failn == 1);
    # what send() accepted arrives, whole and in order
    my ($i, $bad) = (0, 0);
    if ($c->status == 101) {
        while ($i < ($okn // 32)) {
            my $f = $c->read_frame(timeout => 5) or last;
            $bad++ unless $f->{opcode} == 2
                && $f->{payload} eq chr($i) x 65536;
            $i++;
        }
    }
    ok t_cmp("$i/$bad", ($okn // 32) . '/0',
             'every accepted message arrived intact, in order');
    $c->send_close(1000);
    $c->read_until_close(timeout => 5);
    ok t_cmp(disconnects($mark, $tag), $c->status == 101 ? 1 : 0,
             'on_disconnect once');
});

# ---- a burst from a thread while on_connect works on ------------------------
# on_connect starts a thread and works on for 50 ms without waiting for
# it; the thread sends 256 KiB into a 64 KiB queue before the 101 can go
# out: send() waits for room (websocket_plugin.h) instead of failing, and
# everything arrives after the 101
case(5, 'a thread sends 256 KiB during on_connect (queue 64 KiB)', sub {
    my $tag = newtag();
    my $mark = log_mark();
    my $c = conn('/connect-burst', $tag);
    ok t_cmp($c->status, 101, '101');
    my ($i, $bad) = (0, 0);
    my $close = read_all($c, 10 * $F, sub {
        my $f = shift;
        return if $f->{opcode} == 8;
        $bad++ unless $f->{opcode} == 2 && $f->{payload} eq chr($i) x 4096;
        $i++;
    });
    ok t_cmp("$i/$bad", '64/0', 'all 64 messages, intact and in order');
    ok t_cmp($close ? $close->{code} : 'no close frame', 1000,
             'then close 1000');
    finish_close($c);
    my $log = wait_log($mark, qr/^ws_test_threads: connect_burst tag=\Q$tag\E ok=\d+ fail=\d+$/m, 5);
    my ($line) = ($log // '') =~ /^ws_test_threads: connect_burst tag=\S+ (ok=\d+ fail=\d+)$/m;
    ok t_cmp($line // 'no line', 'ok=64 fail=0',
             'every send() accepted');
    ok t_cmp(disconnects($mark, $tag), 1, 'on_disconnect once');
});

# ---- a client that never reads ----------------------------------------------
case(7, 'a stalled reader: bounded memory, others unaffected', sub {
    my $tag = newtag();
    my $mark = log_mark();
    my $before = snapshot();
    my $slow = conn('/slow', $tag);
    ok t_cmp($slow->status, 101, 'slow: 101');
    $slow->send_text('go');    # the plugin thread starts sending
    my $pid = child_of($slow->sock);
    my $base = defined $pid ? $before->{$pid} : undef;
    $base //= defined $pid ? rss_kb($pid) : undef;
    sleep 2;    # the thread fills the queue, the socket buffers fill up

    # another client is served promptly meanwhile
    my $t0 = time;
    my $other = WSClient->connect(path => '/echo');
    my ($good, $worst) = (0, 0);
    for my $i (1 .. 20) {
        my $s = time;
        $other->send_text("ping $i");
        my $f = $other->read_frame(timeout => 2);
        $good++ if $f && $f->{payload} eq "ping $i";
        $worst = time - $s if time - $s > $worst;
    }
    printf "# other connection: %d/20 echoes, slowest %.3f s, all in %.2f s\n",
        $good, $worst, time - $t0;
    ok t_cmp($good, 20, 'another connection gets its echoes') && $worst < $F;
    $other->send_close(1000);
    $other->read_until_close(timeout => 5);

    my $now = defined $pid ? rss_kb($pid) : undef;
    if (mem_skip()) {
        skip(mem_skip(), 1);
    }
    elsif (defined $base && defined $now) {
        printf "# child %d: RssAnon %d kB -> %d kB while stalled\n", $pid,
            $base, $now;
        ok $now - $base < 8 * 1024;
    }
    else {
        print "# cannot find the child serving the slow client\n";
        ok 0;
    }
    ok t_cmp(count_log($mark, qr/^ws_test_threads: slow tag=\Q$tag\E /m), 0,
             'the plugin thread is held in send() (not failed)');

    # the client goes away: send() returns 0, on_disconnect runs
    $slow->close_socket;
    my $log = wait_log($mark, qr/^ws_test_threads: slow tag=\Q$tag\E sent=\d+$/m, 10);
    my ($sent) = ($log // '') =~ /slow tag=\Q$tag\E sent=(\d+)/;
    print "# the plugin thread had ", $sent // '?', " x 64 KiB accepted\n";
    ok defined $sent && $sent * 64 < 32 * 1024;
    ok t_cmp(disconnects($mark, $tag), 1, 'on_disconnect once');
    ok t_cmp(count_log($mark, qr/^ws_test_threads: BUG/), 0,
             'no send() succeeded after on_disconnect began');
});

# ---- close-wait timeout -----------------------------------------------------
case(5, 'the server gives up waiting for the client\'s close', sub {
    my $tag = newtag();
    my $mark = log_mark();
    # WebSocketCloseTimeout 1 (/count) and the default (/test: 5 s)
    my $one = conn('/count', $tag);
    my $dflt = WSClient->connect(path => '/test');
    $_->send_text('close') for $one, $dflt;
    my $t0 = time;
    my $f1 = $one->read_frame(timeout => 5);
    my $f2 = $dflt->read_frame(timeout => 5);
    ok t_cmp(join(',', map { $_ ? "$_->{opcode}:" . length $_->{payload}
                               : 'none' } $f1, $f2),
             '8:0,8:0', 'close frames without status code');
    # never answered: the server must close TCP on its own
    my $eof1 = $one->wait_eof(timeout => 5 + $F);
    my $s1 = time - $t0;
    my $eof2 = $dflt->wait_eof(timeout => 9 + $F - $s1);
    my $s2 = time - $t0;
    printf "# closed after %.2f s (timeout 1) and %.2f s (default)\n",
        $s1, $s2;
    ok $eof1 && $s1 > 0.7 && $s1 < 1.5 + $F;
    ok $eof2 && $s2 > 4 && $s2 < 6.5 + $F;
    ok t_cmp($one->{trailing_bytes} . $dflt->{trailing_bytes}, '',
             'nothing after the close frames');
    ok t_cmp(disconnects($mark, $tag), 1, 'on_disconnect once');
});

# ---- on_disconnect exactly once, whatever ended the connection -------------
case(11, 'on_disconnect exactly once per way of ending', sub {
    my $mark = log_mark();
    my %how;    # tag => [description, what the client saw]
    my $scenario = sub {
        my ($desc, $path, $code) = @_;
        my $tag = newtag();
        my $c = conn($path, $tag);
        my $saw = $c->status == 101 ? $code->($c) : 'status ' . $c->status;
        $how{$tag} = [$desc, $saw];
    };
    my $closed = sub {
        my $r = shift;
        ('close=' . ($r->{code} // 'none')) . ($r->{eof} ? ',eof' : ',open');
    };
    $scenario->('client close 1000', '/count', sub {
        my $c = shift;
        $c->send_close(1000);
        $closed->($c->read_until_close(timeout => 5));
    });
    $scenario->('server close, client answers', '/count', sub {
        my $c = shift;
        $c->send_text('close');
        $closed->($c->read_until_close(timeout => 5, reply => 1));
    });
    $scenario->('protocol error (unmasked frame)', '/count', sub {
        my $c = shift;
        $c->send_text('x', mask => 0);
        $closed->($c->read_until_close(timeout => 5));
    });
    $scenario->('message too large', '/count', sub {
        my $c = shift;
        $c->send_binary('x' x 2000);
        $closed->($c->read_until_close(timeout => 5));
    });
    $scenario->('invalid UTF-8', '/count', sub {
        my $c = shift;
        $c->send_text("ok \xff");
        $closed->($c->read_until_close(timeout => 5));
    });
    $scenario->('client vanishes mid-frame', '/count', sub {
        my $c = shift;
        my $frame = WSClient::encode_frame(opcode => 2,
                                           payload => 'y' x 500);
        $c->send_raw(substr $frame, 0, 100);
        sleep 0.1;
        $c->close_socket;
        'vanished';
    });
    $scenario->('client half-closes without a close frame', '/count', sub {
        my $c = shift;
        $c->shutdown_write;
        $c->wait_eof(timeout => 5) ? 'eof' : 'open';
    });
    $scenario->('client vanishes while 64 threads send', '/senders', sub {
        my $c = shift;
        $c->read_frame(timeout => 2);
        $c->close_socket;
        'vanished';
    });
    $scenario->('client vanishes while 10 threads send', '/threads', sub {
        my $c = shift;
        $c->close_socket;
        'vanished';
    });
    my %want = (
        'client close 1000'                        => 'close=1000,eof',
        'server close, client answers'             => 'close=none,eof',
        'protocol error (unmasked frame)'          => 'close=1002,eof',
        'message too large'                        => 'close=1009,eof',
        'invalid UTF-8'                            => 'close=1007,eof',
        'client vanishes mid-frame'                => 'vanished',
        'client half-closes without a close frame' => 'eof',
        'client vanishes while 64 threads send'    => 'vanished',
        'client vanishes while 10 threads send'    => 'vanished',
    );
    # all lines are in by now or soon: wait for each, then count
    my $deadline = time + 10;
    for my $tag (keys %how) {
        wait_log($mark, disc_re($tag), $deadline - time);
    }
    sleep 0.5;
    for my $tag (sort keys %how) {
        my ($desc, $saw) = @{ $how{$tag} };
        ok t_cmp("$saw; on_disconnect x" . count_log($mark, disc_re($tag)),
                 "$want{$desc}; on_disconnect x1", $desc);
    }
    ok t_cmp(count_log($mark, qr/^ws_test_threads: BUG/), 0,
             'no send() succeeded after on_disconnect began');
    # every connect line of this plugin since the start has its disconnect
    # (refused ones have none; connect_join is checked by its own case)
    my $all = log_since($start_mark);
    my %open;
    $open{$1}++ while $all =~ /^ws_test_threads: connect tag=(\S*) mode=(?!refuse|connect_join)/mg;
    $open{$1}-- while $all =~ /^ws_test_threads: disconnect tag=(\S*) mode=(?!connect_join)/mg;
    my @odd = grep { $open{$_} } sort keys %open;
    ok t_cmp("@odd", '', 'connections of this file without exactly one '
             . 'on_disconnect');
});

# README, "Threads: send() and close() around on_disconnect": a plugin
# thread holding the plugin's lock sends to, and closes, a connection
# whose on_disconnect waits for that lock -- send() returns 0 at once,
# nothing deadlocks, on_disconnect runs (t/plugins/ws_test_lock.c)
sub disconnects_lock {
    my ($mark, $tag) = @_;
    sleep 0.3;
    count_log($mark, qr/^ws_test_lock: disconnect tag=\Q$tag\E /);
}
for my $how ('vanishes', 'sends a close frame') {
    case(5, "send()/close() to a connection in on_disconnect (client $how)",
         sub {
        my $mark = log_mark();
        my $tag = newtag();
        my $c = conn('/lock', $tag);
        $c->send_text('hold');
        my $f = $c->read_frame(timeout => 5 * $F);
        ok t_cmp($f ? $f->{payload} : 'none', 'held',
                 "$how: the plugin thread holds the plugin's lock");
        my $after = 'not read';
        if ($how eq 'vanishes') {
            $c->close_socket;
        } else {
            $c->send_close(1000);
            my $r = $c->read_until_close(timeout => 10 * $F);
            $after = join ',', map { $_->{opcode} == 1 ? $_->{payload}
                                                        : "op$_->{opcode}" }
                               @{ $r->{frames} };
        }
        my $re = qr/^ws_test_lock: disconnect tag=\Q$tag\E begun=(\d+) /
                 . qr/send=(-?\d+) waited=(\d+)$/m;
        my $log = wait_log($mark, $re, 15 * $F) // '';
        my ($begun, $sent, $waited) = $log =~ $re;
        ok t_cmp(defined $begun ? "begun=$begun" : 'no on_disconnect line',
                 'begun=1', "$how: on_disconnect ran, and waited for the "
                 . 'lock while the thread sent');
        ok t_cmp($sent // 'none', 0, "$how: send() to it returned 0");
        ok(defined $waited && $waited >= 150 && $waited < 5000 * $F)
            or print "# on_disconnect waited ", $waited // 'n/a',
                     " ms for the lock (the thread holds it 200 ms)\n";
        if ($how eq 'vanishes') {
            ok t_cmp(disconnects_lock($mark, $tag), 1,
                     "$how: on_disconnect once");
        } else {
            ok t_cmp($after, 'op8', "$how: only the close reply, no 'late'");
        }
    });
}
# ---- the server survived all of it -------------------------------------------
case(1, 'no httpd child crashed', sub {
    my $log = log_since($start_mark);
    my @crash = $log =~ /^(.*(?:exit signal|AH00052|Segmentation|Aborted).*)$/mg;
    print "# $_\n" for @crash[0 .. ($#crash < 4 ? $#crash : 4)];
    ok t_cmp(scalar @crash, 0, 'no child died on a signal');
});

plan tests => ncases(), need_module 'mod_websocket.c';
run_cases();
