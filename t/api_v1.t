# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# Plugin API v1 (SPEC.md section 7, README "Writing plugins"), through
# the chat example (plugins/chat) and t/plugins/ws_test_v1.c (behaviour
# documented at its top); locations in t/conf/api_v1.conf.in:
#  - two chat clients see each other's messages, joins and leaves; a
#    WebSocketChannel subscriber of the room sees them too; a request
#    without a name and a binary message are closed with close_with();
#  - a plugin thread publishing through the host of on_load reaches a
#    WebSocketChannel subscriber;
#  - subscribe()/unsubscribe() from a plugin, on its thread and another;
#    the 255 channel limit;
#  - publish() refused: memory full, invalid type, connection gone;
#  - close_with(): code and reason reach the client; invalid codes and
#    reasons are refused and the connection stays open;
#  - on_close gets the client's code and reason, 1005, 1006;
#  - options: per location, nested, case-insensitive, through the host;
#  - the legacy plugin (0.1.2 header) still loads and runs.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(plan ok);
use Apache::TestUtil qw(t_cmp);
use Time::HiRes qw(time sleep);
use WSClient;
use WSTest qw(case ncases run_cases log_mark log_since wait_log count_log);

my $run = sprintf '%x%x', $$, int(time);
my $tagn = 0;
sub newtag { sprintf 'v1-%s-%d', $run, ++$tagn }

sub v1 {
    my %a = @_;
    my $tag = delete $a{tag} || newtag();
    my $c = WSClient->connect(path => '/v1', %a, headers => ['X-Tag' => $tag]);
    $c->{tag} = $tag;
    $c;
}

# the next text frame whose payload matches $re (others skipped), or ''
sub next_text {
    my ($c, $re, $secs) = @_;
    my $deadline = time + ($secs || 10);
    while ((my $left = $deadline - time) > 0) {
        my $f = $c->read_frame(timeout => $left) or last;
        return '' if $f->{opcode} == 8;
        next unless $f->{opcode} == 1;
        return $f->{payload} if $f->{payload} =~ $re;
    }
    '';
}

# a command of the test plugin and its answer ("<word> ... = <result>")
sub cmd {
    my ($c, $text) = @_;
    my ($word) = $text =~ /^(\S+)/;
    $c->send_text($text);
    my $r = next_text($c, qr/^\Q$word\E\b.* = /);
    $r =~ s/^.* = //s;
    $r;
}

# every text frame that arrives within $secs
sub drain {
    my ($c, $secs) = @_;
    my @got;
    my $deadline = time + $secs;
    while ((my $left = $deadline - time) > 0) {
        my $f = $c->read_frame(timeout => $left) or last;
        push @got, $f->{payload} if $f->{opcode} == 1;
    }
    @got;
}

sub done {
    for my $c (grep { defined && $_->status == 101 } @_) {
        $c->send_close(1000);
        $c->read_until_close(timeout => 5);
    }
}

# ---- the chat example --------------------------------------------------------
case(11, 'chat: two clients, joins, messages, leaves', sub {
    my $room = "r$run";
    my $watch = WSClient->connect(path => "/chat-watch/$room");
    ok t_cmp($watch->status, 101, 'a WebSocketChannel subscriber of the room');
    my $alice = WSClient->connect(path => "/chat-room?name=alice&room=$room");
    ok t_cmp($alice->status, 101, 'alice: 101');
    ok t_cmp(next_text($alice, qr/./), 'Welcome to the chat',
             'alice: the greeting of WebSocketPluginOption');
    ok t_cmp(next_text($alice, qr/^\*/), '* alice joined', 'alice: own join');
    my $bob = WSClient->connect(path => "/chat-room?room=$room&name=bob");
    ok t_cmp(next_text($bob, qr/^\*/), '* bob joined', 'bob: own join');
    ok t_cmp(next_text($alice, qr/^\*/), '* bob joined', 'alice sees bob join');
    $alice->send_text('hello bob');
    ok t_cmp(next_text($bob, qr/:/), 'alice: hello bob', "bob gets alice's");
    $bob->send_text('hi alice');
    ok t_cmp(next_text($alice, qr/bob:/), 'bob: hi alice', "alice gets bob's");
    done($bob);
    ok t_cmp(next_text($alice, qr/left/), '* bob left',
             'alice sees bob leave (published through the host)');
    my @w = drain($watch, 1);
    ok t_cmp(join('|', @w),
             "* alice joined|* bob joined|alice: hello bob|bob: hi alice|"
             . '* bob left', 'the channel subscriber got all, in order');
    done($alice);
    ok t_cmp(next_text($watch, qr/left/), '* alice left', 'alice left');
    done($watch);
});

case(5, 'chat: close_with for a bad request and a binary message', sub {
    my $c = WSClient->connect(path => '/chat-room?room=x');
    ok t_cmp($c->status, 101, 'no name: accepted first');
    my $r = $c->read_until_close(timeout => 10, reply => 1);
    ok t_cmp($r->{code}, 1008, 'no name: closed with 1008');
    ok t_cmp($r->{reason}, qr/^name required/, 'no name: the reason');
    $c = WSClient->connect(path => "/chat-room?name=carol&room=b$run");
    $c->send_binary("\x00\x01");
    $r = $c->read_until_close(timeout => 10, reply => 1);
    ok t_cmp($r->{code}, 1003, 'binary: closed with 1003');
    ok t_cmp($r->{reason}, 'text messages only', 'binary: the reason');
});

# ---- the host: a plugin thread publishing without a connection -------------
case(4, 'host: on_load, a ticker thread reaches a channel subscriber', sub {
    my $v = v1();
    ok t_cmp(cmd($v, 'load'), '32/1 ticker=v1-ticker pub=-5',
             'on_load got the host (LP64 size 32, version 1) and an option '
             . 'set before the WebSocketHandler line; a publish in the '
             . 'parent: UNAVAILABLE (-5)');
    done($v);
    my $c = WSClient->connect(path => '/v1-ticks');
    ok t_cmp($c->status, 101, 'a WebSocketChannel subscriber of v1-ticker');
    my $t1 = next_text($c, qr/^tick /, 10);
    ok t_cmp($t1, qr/^tick \d+ \d+$/, 'a tick of the plugin thread arrives');
    my $t2 = next_text($c, qr/^tick /, 10);
    ok t_cmp($t2 ne '' && $t2 ne $t1, 1, 'and the next one');
    $c->close_socket;
});

case(3, 'host: publish from a connection-less call, options', sub {
    my $sub = v1();
    my $pub = v1();
    my $ch = "h$run";
    ok t_cmp(cmd($sub, "sub $ch"), 0, 'subscribed');
    ok t_cmp(cmd($pub, "hpub $ch from the host"), 1,
             'host->publish: one subscriber');
    ok t_cmp(next_text($sub, qr/host/), 'from the host', 'delivered');
    done($sub, $pub);
});

# ---- subscribe / unsubscribe ---------------------------------------------------
case(12, 'subscribe, publish, unsubscribe from a plugin', sub {
    my $a = v1();
    my $b = v1();
    my $ch = "s$run";
    ok t_cmp(cmd($a, 'has'), '1 1', 'WEBSOCKET_SERVER_HAS: subscribe, option');
    ok t_cmp(cmd($a, "sub $ch"), 0, 'subscribe: 0');
    ok t_cmp(cmd($a, "sub $ch"), 0, 'subscribe again: 0 (already)');
    ok t_cmp(cmd($b, "pub $ch one"), 1, 'publish: 1 subscriber');
    ok t_cmp(next_text($a, qr/^one$/), 'one', 'the subscriber gets it');
    ok t_cmp(cmd($b, "tpub $ch two"), 1,
             'publish from a plugin thread: 1 subscriber');
    ok t_cmp(next_text($a, qr/^two$/), 'two', 'and gets that too');
    ok t_cmp(cmd($a, "unsub $ch"), 0, 'unsubscribe: 0');
    ok t_cmp(cmd($a, "unsub $ch"), -6, 'unsubscribe again: NOT_FOUND (-6)');
    ok t_cmp(cmd($b, "pub $ch three"), 0, 'publish: no subscriber now');
    sleep 0.5;
    my @late = drain($a, 0.5);
    ok t_cmp(scalar(grep { $_ eq 'three' } @late), 0,
             'nothing after unsubscribe');
    ok t_cmp(cmd($a, 'sub ' . ('n' x 256)), -1, 'a 256-byte name: INVALID');
    done($a, $b);
});

case(3, 'subscribe: 255 channels per connection', sub {
    my $c = v1();
    my @rc = map { cmd($c, "sub l$run-$_") } 1 .. 255;
    ok t_cmp(scalar(grep { $_ eq '0' } @rc), 255, '255 subscriptions: 0');
    ok t_cmp(cmd($c, "sub l$run-256"), -4, 'the 256th: LIMIT (-4)');
    ok t_cmp(cmd($c, "unsub l$run-7") . ' ' . cmd($c, "sub l$run-256"), '0 0',
             'after one unsubscribe there is room again');
    done($c);
});

case(3, "subscribe(): a subscriber that does not read is closed 'slow'", sub {
    my $ch = "slow$run";
    my $slow = v1(path => '/v1-slow');
    my $pub = v1();
    ok t_cmp(cmd($slow, "sub $ch"), 0, 'subscribed (then reads nothing)');
    my @rc = map { cmd($pub, "big $ch 60000") } 1 .. 300;
    ok t_cmp(scalar(grep { /^\d+$/ } @rc), 300,
             'the publisher never waits nor fails');
    my $r = $slow->read_until_close(timeout => 20);
    ok t_cmp(($r->{code} // 'none') . ' ' . ($r->{reason} // ''), '1008 slow',
             'the slow subscriber: 1008 "slow"');
    done($pub);
});

case(4, 'a location with WebSocketChannel and a v1 plugin', sub {
    my $c = WSClient->connect(path => '/v1-chan');
    my $p = v1();
    ok t_cmp(cmd($c, 'sub v1-own'), 0, 'its own channel: already, 0');
    ok t_cmp(cmd($c, 'unsub v1-own'), -6,
             "WebSocketChannel's channel is not the plugin's to drop");
    ok t_cmp(cmd($p, "pub v1-own own-$run"), qr/^[1-9]\d*$/,
             'a publish counts it');
    ok t_cmp(next_text($c, qr/^own-/), "own-$run", 'and it gets it');
    done($c, $p);
});

# ---- publish refused -------------------------------------------------------------
case(5, 'publish: memory full, invalid type, connection gone', sub {
    my $mark = log_mark();
    my $c = v1();
    # WebSocketChannelMemory is 16 MiB (t/conf/channels.conf.in)
    ok t_cmp(cmd($c, "big f$run 17000000"), -3,
             'a message larger than channel memory: FULL (-3)');
    ok t_cmp(cmd($c, "big f$run 10"), 0, 'a small one still goes: 0');
    ok t_cmp(cmd($c, "badtype f$run"), -1, 'type PING: INVALID (-1)');
    my $tag = $c->{tag};
    done($c);
    my $log = wait_log($mark, qr/on_disconnect .*tag=\Q$tag\E$/m, 10) // '';
    ok t_cmp($log, qr/on_disconnect publish=-2 subscribe=-2 tag=\Q$tag\E$/m,
             'in on_disconnect publish and subscribe: CLOSED (-2)');
    ok t_cmp($log, qr/WS00901: a plugin's message to channel f\Q$run\E/,
             'the refusal is logged');
});

case(4, 'a plugin thread subscribing and publishing while the connection ends',
     sub {
    my $mark = log_mark();
    my $c = v1();
    my $w = v1();
    my $tag = $c->{tag};
    my $ch = "storm$run";
    ok t_cmp(cmd($w, "sub $ch"), 0, 'a subscriber of the storm');
    ok t_cmp(cmd($c, "storm $ch"), 0, 'the storm thread runs');
    ok t_cmp(next_text($w, qr/^s$/), 's', 'its messages arrive');
    sleep 0.3;
    $c->close_socket;
    my $log = wait_log($mark, qr/on_disconnect .*tag=\Q$tag\E$/m, 10) // '';
    ok t_cmp($log, qr/^ws_test_v1: storm ok=[1-9]\d* closed=[1-9]\d* tag=\Q$tag\E$/m,
             'calls succeeded, then failed with CLOSED once it ended');
    done($w);
});

# ---- close_with and on_close ------------------------------------------------------
case(9, 'close_with: valid and invalid codes', sub {
    my $c = v1();
    ok t_cmp(cmd($c, 'close 1005'), -1, '1005: INVALID');
    ok t_cmp(cmd($c, 'close 999'), -1, '999: INVALID');
    ok t_cmp(cmd($c, 'close 5000'), -1, '5000: INVALID');
    ok t_cmp(cmd($c, 'close 1004'), -1, '1004 (reserved): INVALID');
    ok t_cmp(cmd($c, 'close 2999'), -1, '2999 (reserved): INVALID');
    ok t_cmp(cmd($c, 'close 4000 ' . ('r' x 124)), -1,
             'a reason of 124 bytes: INVALID');
    ok t_cmp(cmd($c, 'has'), '1 1', 'the connection is still open');
    $c->send_text('close 4001 bye now');
    my $r = $c->read_until_close(timeout => 10, reply => 1);
    ok t_cmp($r->{code}, 4001, 'close_with(4001): the code reaches the client');
    ok t_cmp($r->{reason}, 'bye now', 'and the reason');
});

case(6, "on_close: the client's code and reason, 1005, 1006", sub {
    my $mark = log_mark();
    my $c = v1();
    my $tag = $c->{tag};
    cmd($c, 'has');
    $c->send_close(4002, 'client says bye');
    $c->read_until_close(timeout => 5);
    my $log = wait_log($mark, qr/on_disconnect .*tag=\Q$tag\E$/m, 10) // '';
    ok t_cmp($log, qr/^ws_test_v1: on_close code=4002 reason=client says bye len=15 tag=\Q$tag\E$/m,
             'code and reason of the close frame');
    my @lines = $log =~ /^(ws_test_v1: on_\w+ .*tag=\Q$tag\E)$/mg;
    ok t_cmp(join('|', map { /(on_\w+)/ } @lines), 'on_close|on_disconnect',
             'once, before on_disconnect');

    $c = v1();
    $tag = $c->{tag};
    cmd($c, 'has');
    $c->send_close();
    $c->read_until_close(timeout => 5);
    $log = wait_log($mark, qr/on_disconnect .*tag=\Q$tag\E$/m, 10) // '';
    ok t_cmp($log, qr/^ws_test_v1: on_close code=1005 reason= len=0 tag=\Q$tag\E$/m,
             'a close frame without a code: 1005');

    $c = v1();
    $tag = $c->{tag};
    cmd($c, 'has');
    $c->close_socket;
    $log = wait_log($mark, qr/on_disconnect .*tag=\Q$tag\E$/m, 10) // '';
    ok t_cmp($log, qr/^ws_test_v1: on_close code=1006 reason= len=0 tag=\Q$tag\E$/m,
             'no close frame: 1006');

    # close_with from the plugin, the client answers: its code is reported
    $c = v1();
    $tag = $c->{tag};
    $c->send_text('close 4003 server bye');
    my $r = $c->read_until_close(timeout => 10, reply => 1);
    ok t_cmp($r->{code}, 4003, 'the server closed with 4003');
    $log = wait_log($mark, qr/on_disconnect .*tag=\Q$tag\E$/m, 10) // '';
    ok t_cmp($log, qr/^ws_test_v1: on_close code=4003 reason= len=0 tag=\Q$tag\E$/m,
             "the client's reply (code only) is what on_close gets");
});

# ---- options --------------------------------------------------------------------
case(9, 'WebSocketPluginOption: per location, nested, through the host', sub {
    my $c = v1();
    ok t_cmp(cmd($c, 'opt color'), 'green', 'the last line of a key wins');
    ok t_cmp(cmd($c, 'opt COLOR'), 'green', 'keys without regard to case');
    ok t_cmp(cmd($c, 'opt ticker-ms'), '50', 'a line after WebSocketHandler');
    ok t_cmp(cmd($c, 'opt nope'), '(null)', 'unset: NULL');
    done($c);
    $c = v1(path => '/v1/inner');
    ok t_cmp(cmd($c, 'opt color'), 'red', 'nested: replaced');
    ok t_cmp(cmd($c, 'opt shape'), 'round', 'nested: added');
    ok t_cmp(cmd($c, 'opt ticker'), 'v1-ticker', 'nested: inherited');
    ok t_cmp(cmd($c, 'hopt color'), 'green',
             "the host reads the loading section's own options");
    ok t_cmp(cmd($c, 'hopt shape'), '(null)', 'not the nested ones');
    done($c);
});

# ---- v0 plugins ---------------------------------------------------------------------
case(3, 'version 1 with only the members of version 0', sub {
    my $c = WSClient->connect(path => '/v1small');
    ok t_cmp($c->status, 101, 'loaded and accepted');
    $c->send_text('small');
    my $f = $c->read_frame;
    ok t_cmp($f ? $f->{payload} : '', 'small', 'echo');
    $c->send_close(1000);
    my $r = $c->read_until_close(timeout => 5);
    ok t_cmp($r->{code}, 1000, 'closes (no on_close read past its end)');
});

case(2, 'the legacy plugin (0.1.2 header) still loads and runs', sub {
    my $c = WSClient->connect(path => '/legacy');
    ok t_cmp($c->status, 101, 'legacy: 101');
    $c->send_text('still here');
    my $f = $c->read_frame;
    ok t_cmp($f ? $f->{payload} : '', 'still here', 'legacy: echo');
    done($c);
});

plan tests => ncases();
run_cases();
