# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# Plugin API v0 (SPEC.md section 1) as seen over HTTP, driven through
# t/plugins/ws_test_plugin.c (behaviour documented at its top),
# t/plugins/ws_test_bad.c and the legacy plugin.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Config;
use Time::HiRes qw(sleep);
use Apache::Test qw(plan ok skip need_module);
use Apache::TestUtil qw(t_cmp);
use WSClient;
use WSTest qw(case ncases run_cases log_mark log_since wait_log count_log);

my $tagn = 0;
sub newtag { sprintf 'api-%d-%d', $$, ++$tagn }

# a handshake on /test; accepted connections carry an X-Tag so their
# on_disconnect line can be told apart
sub hs {
    my %a = @_;
    my $tag = delete $a{tag} || newtag();
    my @h = @{ delete $a{headers} || [] };
    my $c = WSClient->connect(path => '/test', %a,
                              headers => [@h, 'X-Tag' => $tag]);
    $c->{tag} = $tag;
    $c;
}

sub done {
    my $c = shift;
    return unless $c && $c->status == 101;
    $c->send_close(1000);
    $c->read_until_close(timeout => 5);
}

sub desc {
    my $f = shift;
    return 'none' unless $f;
    "$f->{opcode}:$f->{payload}";
}

# the on_disconnect line of a tagged connection: wait for it, then make
# sure no second one follows
sub disconnects {
    my ($mark, $tag) = @_;
    my $re = qr/^ws_test_plugin: on_disconnect tag=\Q$tag\E$/m;
    wait_log($mark, $re, 10);
    sleep 0.5;
    count_log($mark, qr/^ws_test_plugin: on_disconnect tag=\Q$tag\E$/);
}

# ---- on_connect refusal --------------------------------------------------
case(8, 'on_connect refuses', sub {
    sleep 0.5;     # let earlier connections finish
    my $mark = log_mark();
    my $c = hs(headers => ['X-Refuse' => 1]);
    ok t_cmp($c->status, 403, 'refused: 403');
    ok t_cmp($c->body, '', 'refused: empty body');
    ok t_cmp($c->header('Connection'), qr/\bclose\b/i,
             'refused: Connection: close');
    ok t_cmp($c->header('X-Should-Not-Appear'), undef,
             'refused: header set before refusing is discarded');
    ok t_cmp($c->header('X-Server-Size'), undef,
             'refused: no header of on_connect at all');
    ok t_cmp($c->header_count('Sec-WebSocket-Accept'), 0,
             'refused: no Sec-WebSocket-Accept');
    ok t_cmp($c->wait_eof(timeout => 5), 1, 'refused: server closes TCP');
    sleep 1;
    ok t_cmp(count_log($mark, qr/^ws_test_plugin: on_disconnect$/), 0,
             'refused: on_disconnect not called');
});
case(4, 'on_connect sends, then refuses', sub {
    my $c = hs(headers => ['X-Send-In-Connect' => 1, 'X-Refuse' => 1]);
    ok t_cmp($c->status, 403, 'send+refuse: 403');
    ok t_cmp($c->body, '', 'send+refuse: empty body');
    ok t_cmp($c->wait_eof(timeout => 5), 1, 'send+refuse: server closes TCP');
    ok t_cmp(length($c->pending) + length($c->{trailing_bytes}), 0,
             'send+refuse: queued frames discarded (no bytes after the 403)');
});

# ---- on_connect runs only after every handshake check passed -------------------
for my $r (['origin refused', [path => '/origin-same',
                               origin => 'http://evil.example'], 403],
           ['bad version', [version => 12], 400],
           ['bad protocol list', [protocols => 'a b'], 400],
           ['bad key', [key => 'abc'], 400],
           ['POST', [method => 'POST'], 400],
           ['all checks passed', [], 101]) {
    my ($name, $args, $status) = @$r;
    case(2, "on_connect: $name", sub {
        my $mark = log_mark();
        my $c = hs(@$args);
        ok t_cmp($c->status, $status, "$name: $status");
        # on_connect writes its line before any response is sent
        my $n = count_log($mark,
            qr/^ws_test_plugin: on_connect tag=\Q$c->{tag}\E$/);
        ok t_cmp($n, $status == 101 ? 1 : 0,
                 "$name: on_connect " . ($status == 101 ? 'once' : 'not called'));
        done($c);
    });
}

# ---- send()/close() inside on_connect ---------------------------------------
case(5, 'send() in on_connect, same thread and another thread', sub {
    my $c = hs(headers => ['X-Send-In-Connect' => 1]);
    ok t_cmp($c->status, 101, 'send in on_connect: 101 (no deadlock)');
    ok t_cmp($c->header('X-Send-Results'), '15|11',
             'send in on_connect: send() returned the lengths');
    my @f = map { $c->read_frame } 1 .. 2;
    ok t_cmp(join(',', sort map { desc($_) } @f),
             '1:from on_connect,1:from thread',
             'send in on_connect: both frames after the 101');
    $c->send_text('then echo');
    ok t_cmp(desc($c->read_frame), '1:then echo', 'then normal echo');
    my $r = done($c);
    ok t_cmp($r->{code}, 1000, 'send in on_connect: clean close');
});
case(5, 'close() in on_connect', sub {
    my $mark = log_mark();
    my $c = hs(headers => ['X-Close-In-Connect' => 1]);
    ok t_cmp($c->status, 101, 'close in on_connect: 101 (no deadlock)');
    my $r = $c->read_until_close(reply => 1);
    ok t_cmp(scalar(@{ $r->{frames} }) && $r->{frames}[0]{opcode}, 8,
             'close in on_connect: first frame is a close');
    ok t_cmp($r->{close} && $r->{close}{length}, 0,
             'close(): close frame without status code');
    ok t_cmp($r->{eof}, 1, 'close in on_connect: server closes TCP');
    ok t_cmp(disconnects($mark, $c->{tag}), 1,
             'close in on_connect: on_disconnect once');
});

# ---- server functions in on_connect --------------------------------------------
case(6, 'server struct and request headers', sub {
    my $c = hs(headers => ['X-Echo-Me' => 'Mixed Case Value']);
    ok t_cmp($c->status, 101, '101');
    if ($Config{ptrsize} == 8) {
        # the module hands the v1 struct (SPEC section 7) to every plugin
        ok t_cmp($c->header('X-Server-Size'), 120,
                 'server->size 120 (LP64, API v1)');
    } else {
        skip('not LP64', 0);
    }
    ok t_cmp($c->header('X-Server-Version'), 2, 'server->version 2');
    ok t_cmp($c->header('X-Request-NonNull'), 1, 'request() is not NULL');
    ok t_cmp($c->header('X-Echo-Me'), 'Mixed Case Value',
             'header_get is case-insensitive');
    ok t_cmp($c->header('X-Missing-Header'), 'null',
             'header_get of an absent header is NULL');
    done($c);
});

# ---- on_message --------------------------------------------------------------
case(14, 'on_message', sub {
    my $c = hs();
    ok t_cmp($c->status, 101, '101');
    $c->send_text('hello');
    ok t_cmp(desc($c->read_frame), '1:hello', 'text echoed as text');
    $c->send_binary("\x00\x01\xfe\xff");
    ok t_cmp(desc($c->read_frame), "2:\x00\x01\xfe\xff",
             'binary echoed as binary');
    $c->send_text('type');
    ok t_cmp(desc($c->read_frame), '1:type=0', 'text: type MESSAGE_TYPE_TEXT');
    $c->send_binary('type');
    ok t_cmp(desc($c->read_frame), '1:type=128',
             'binary: type MESSAGE_TYPE_BINARY');
    $c->send_text('');
    my $f = $c->read_frame;
    ok t_cmp(desc($f), '1:', 'empty text message: size 0, non-NULL buffer');
    $c->send_binary('');
    ok t_cmp(desc($c->read_frame), '2:', 'empty binary message');
    $c->send_text('upper:abc');
    ok t_cmp(desc($c->read_frame), '1:UPPER:ABC', 'buffer is writable');
    $c->send_fragments(['frag', 'men', 't'], opcode => 1);
    ok t_cmp(desc($c->read_frame), '1:fragment',
             'fragmented message: one call with the whole message');
    ok t_cmp($c->read_frame(timeout => 0.5), undef,
             'fragmented message: nothing else delivered');
    # control frames never reach the plugin
    $c->send_ping('are you there');
    $c->send_pong('unsolicited');
    $c->send_text('after');
    my @f = map { $c->read_frame } 1 .. 2;
    ok t_cmp(join(',', map { desc($_) } @f), '10:are you there,1:after',
             'ping answered by the module; ping/pong not passed to the plugin');
    $c->send_text('ping');
    ok t_cmp(desc($c->read_frame), '9:p', 'send(PING) sends a ping');
    $c->send_text('after-connect-set');
    ok t_cmp(desc($c->read_frame), '1:ok',
             'header_set/protocol_set after on_connect: harmless');
    my $r = done($c);
    ok t_cmp($r->{code}, 1000, 'clean close');
});

# ---- send() types ------------------------------------------------------------
case(9, 'send() type mapping', sub {
    my $c = hs();
    $c->send_text('sendtype:0:abc');
    ok t_cmp(desc($c->read_frame), '1:abc', 'TEXT -> opcode 0x1');
    ok t_cmp(desc($c->read_frame), '1:ret=3', 'send() returns the length');
    $c->send_text('sendtype:128:abc');
    ok t_cmp(desc($c->read_frame), '2:abc', 'BINARY -> opcode 0x2');
    ok t_cmp(desc($c->read_frame), '1:ret=3', 'send() returns the length');
    $c->send_text('sendtype:256:pp');
    ok t_cmp(desc($c->read_frame), '9:pp', 'PING -> opcode 0x9');
    ok t_cmp(desc($c->read_frame), '1:ret=2', 'send() returns the length');
    $c->send_text('sendtype:257:qq');
    ok t_cmp(desc($c->read_frame), '10:qq', 'PONG -> opcode 0xA');
    ok t_cmp(desc($c->read_frame), '1:ret=2', 'send() returns the length');
    my $r = done($c);
    ok t_cmp($r->{code}, 1000, 'clean close');
});
for my $t ([255, 'CLOSE'], [999, 'unknown type']) {
    my ($type, $name) = @$t;
    case(4, "send($name)", sub {
        my $c = hs();
        $c->send_text("sendtype:$type:");
        my $r = $c->read_until_close(reply => 1);
        ok t_cmp(scalar @{ $r->{frames} }, 1, "send($name): only a close frame"
                 . ' (and send() after it is discarded)');
        ok t_cmp($r->{close} && $r->{close}{opcode}, 8, "send($name) -> close");
        ok t_cmp($r->{eof}, 1, "send($name): TCP closed after the handshake");
        ok t_cmp($r->{trailing}, '', "send($name): nothing after the close");
    });
}

# send(MESSAGE_TYPE_CLOSE, buf, n): buf is the close frame's payload as
# given -- a status code (2 bytes, big-endian), then a UTF-8 reason; the
# module checks neither (README, "Writing plugins")
for my $t (["\x0f\xa0bye", 'status code 4000 and a reason', '4000/bye'],
           ["\x03\xe8", 'status code 1000 alone', '1000/'],
           ['x', 'one byte (a protocol error, sent as given)', '-/'],
           ["\x03\xed", 'code 1005 (prohibited, sent as given)', '1005/']) {
    my ($payload, $name, $want) = @$t;
    case(3, "send(CLOSE, $name)", sub {
        my $c = hs();
        $c->send_binary("sendtype:255:$payload");
        my $r = $c->read_until_close(reply => 1);
        my $f = $r->{close};
        ok t_cmp($f ? $f->{payload} : 'no close frame', $payload,
                 "send(CLOSE, $name): the buffer is the close payload");
        ok t_cmp(($r->{code} // '-') . '/' . ($r->{reason} // ''), $want,
                 "send(CLOSE, $name): code/reason the client reads");
        ok t_cmp($r->{eof}, 1, "send(CLOSE, $name): TCP closed");
    });
}

# ---- close() -------------------------------------------------------------------
case(5, 'close() from on_message', sub {
    my $mark = log_mark();
    my $c = hs();
    $c->send_text('close');
    my $r = $c->read_until_close(reply => 1);
    ok t_cmp($r->{close} && $r->{close}{length}, 0,
             'close(): close frame without status code');
    ok t_cmp(scalar @{ $r->{frames} }, 1, 'close(): nothing before it');
    ok t_cmp($r->{eof}, 1, 'close(): TCP closed after the client replied');
    ok t_cmp($r->{trailing}, '', 'close(): nothing after the close frame');
    ok t_cmp(disconnects($mark, $c->{tag}), 1, 'close(): on_disconnect once');
});
case(3, 'close() waits for the client only for a bounded time', sub {
    my $mark = log_mark();
    my $c = hs();
    $c->send_text('close');
    my $f = $c->read_frame;
    ok t_cmp($f && $f->{opcode}, 8, 'close(): close frame sent');
    # the client never answers: the server must give up by itself
    my $wait = $WSClient::TIMEOUT > 20 ? $WSClient::TIMEOUT : 20;
    ok t_cmp($c->wait_eof(timeout => $wait), 1,
             'close(): server closes TCP although the client never replies');
    ok t_cmp(disconnects($mark, $c->{tag}), 1,
             'close() timeout: on_disconnect once');
});
case(2, 'send() after close() returns 0', sub {
    my $mark = log_mark();
    my $c = hs();
    $c->send_text('close-then-send');
    my $r = $c->read_until_close(reply => 1);
    ok t_cmp(scalar @{ $r->{frames} } == 1 && $r->{close} ? 1 : 0, 1,
             'close-then-send: only the close frame');
    ok t_cmp(wait_log($mark, qr/send after close returned \d+/, 5) // '',
             qr/send after close returned 0\n/, 'send() after close() is 0');
});

# ---- on_disconnect exactly once, whatever ended the connection --------------------
case(2, 'on_disconnect after the client closes', sub {
    my $mark = log_mark();
    my $c = hs();
    my $r = done($c);
    ok t_cmp($r->{code}, 1000, 'client close answered with 1000');
    ok t_cmp(disconnects($mark, $c->{tag}), 1, 'client close: on_disconnect once');
});
case(1, 'on_disconnect after the client drops TCP', sub {
    my $mark = log_mark();
    my $c = hs();
    $c->send_text('x');
    $c->read_frame;
    $c->close_socket;
    ok t_cmp(disconnects($mark, $c->{tag}), 1, 'TCP drop: on_disconnect once');
});
case(2, 'on_disconnect after a protocol error', sub {
    my $mark = log_mark();
    my $c = hs();
    $c->send_text('unmasked', mask => 0);
    my $r = $c->read_until_close;
    ok t_cmp($r->{code}, 1002, 'unmasked frame: 1002');
    ok t_cmp(disconnects($mark, $c->{tag}), 1,
             'protocol error: on_disconnect once');
});
case(1, 'on_disconnect after a half-close', sub {
    my $mark = log_mark();
    my $c = hs();
    $c->shutdown_write;
    $c->wait_eof(timeout => 5);
    ok t_cmp(disconnects($mark, $c->{tag}), 1, 'half-close: on_disconnect once');
});

# ---- loader: accepted plugins ---------------------------------------------------------
for my $p (['/big', 'size larger than sizeof(WebSocketPlugin)'],
           ['/minimal', 'no on_connect/on_disconnect/destroy'],
           ['/counting-a', 'same DSO+symbol, first Location'],
           ['/counting-b', 'same DSO+symbol, second Location']) {
    my ($path, $name) = @$p;
    case(2, "plugin $path", sub {
        my $c = WSClient->connect(path => $path);
        ok t_cmp($c->status, 101, "$name: 101");
        $c->send_text('echo me');
        ok t_cmp(desc($c->read_frame), '1:echo me', "$name: works");
        done($c);
    });
}
case(3, 'legacy plugin (original 0.1.2 header)', sub {
    my $c = WSClient->connect(path => '/legacy',
                              headers => ['X-Legacy' => 'v0.1.2']);
    ok t_cmp($c->status, 101, 'legacy: 101');
    ok t_cmp($c->accept_ok, 1, 'legacy: accept value');
    ok t_cmp($c->header('X-Legacy-Seen'), 'v0.1.2',
             'legacy: on_connect ran with header_get/header_set');
    done($c);
});
case(1, 'one load per DSO+symbol per configuration generation', sub {
    # What the running server's error_log can show: httpd reads its
    # configuration twice at start.  The first read prints to the console;
    # its configuration is then unloaded with stderr already on the
    # error_log, so every plugin loaded by that read prints its
    # "destroy" line there, before the first "resuming normal operations".
    # (The second read happens after the detach, with stderr on /dev/null.)
    # Two Locations name the same DSO+symbol: one load, one destroy.
    my $log = log_since(0);
    my $i = index $log, 'resuming normal operations';
    my $first = $i < 0 ? $log : substr $log, 0, $i;
    my $destroys = () = $first =~ /^ws_test_bad: destroy$/mg;
    ok t_cmp($destroys, 1,
             'counting_init (two Locations) loaded and destroyed once');
});

plan tests => ncases(), need_module 'mod_websocket.c';
run_cases();
