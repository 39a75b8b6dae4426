# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# SPEC.md section 4 (data phase) beyond the Autobahn walk of
# t/conformance.t: configurable limits (1009, and 1004 for protocol
# versions 7/8, decided from the length field before any payload is sent),
# reserved close codes, huge declared lengths, unmasked frames, UTF-8 at
# fragment ends, pings mid-message, plugin-initiated close, frames
# pipelined with the handshake, and the dumb-increment example plugin.
# Locations: t/conf/dataphase.conf.in (/dp-*), /test (test plugin) and
# /dumb-increment from t/conf/extra.conf.in.  Same strict driver as
# t/conformance.t (t/lib/Conformance.pm): exact close codes, nothing after
# the close frame, the server closes TCP.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore plan need_module ok diag);
use Time::HiRes qw(time sleep);
use WSClient;
use Conformance qw(case);

my $TO = $Conformance::TIMEOUT;

sub fr   { my ($op, $p, %x) = @_; { opcode => $op, payload => $p, %x } }
sub text { fr(1, @_) }
sub bin  { fr(2, @_) }
sub cont { fr(0, @_) }
sub ping { fr(9, @_) }
sub pong { fr(10, @_) }
sub closef {
    my ($code, $reason) = @_;
    fr(8, defined $code ? pack('n', $code) . (defined $reason ? $reason : '')
                        : '');
}
# only the header of a frame declaring $len payload bytes (masked)
sub header_only {
    my ($op, $len, %x) = @_;
    WSClient::encode_frame(opcode => $op, payload => '', length => $len, %x);
}

# ---- close codes -----------------------------------------------------------
# SPEC: 1012 and 1013 are valid (registered after RFC 6455); 1014 is
# reserved and 1015 prohibited
for my $c ([1012, 1012], [1013, 1013], [1014, 1002], [1015, 1002]) {
    my ($code, $want) = @$c;
    case("close $code (default)", "close code $code: " . ($want == $code
         ? 'echoed' : '1002'), sub {
        $_[0]->client_close(code => $code, expect => $want);
    }, path => '/dp-echo');
}
for my $code (1004, 1014, 1016, 1100, 2000, 2999) {
    case("reserved-on $code", "WebSocketAllowReservedStatusCodes On: "
         . "reserved code $code echoed", sub {
        $_[0]->client_close(code => $code);
    }, path => '/dp-reserved-on');
}
for my $code (0, 999, 1005, 1006, 1015, 5000, 65535) {
    case("reserved-on $code", "WebSocketAllowReservedStatusCodes On: "
         . "prohibited code $code still 1002", sub {
        $_[0]->client_close(code => $code, expect => 1002);
    }, path => '/dp-reserved-on');
}
case('close+reason', 'client close 4321 with a reason: the reply echoes '
     . '4321', sub {
    $_[0]->client_close(code => 4321, reason => 'bye now');
}, path => '/dp-echo');
case('close+reason 1001', 'client close 1001 "going away": reply 1001',
     sub {
    $_[0]->client_close(code => 1001, reason => 'going away');
}, path => '/dp-echo');

# ---- WebSocketMaxMessageSize ---------------------------------------------
case('max1000 exact', 'limit 1000: a 1000-byte text is echoed', sub {
    my $t = shift;
    my $p = 'x' x 1000;
    $t->send(text($p));
    $t->expect([text => $p]);
    $t->client_close;
}, path => '/dp-max1000');
case('max1000 frame', 'limit 1000: a frame declaring 1001 bytes gets 1009 '
     . 'before its payload is sent', sub {
    my $t = shift;
    $t->send(header_only(2, 1001));
    $t->server_close(1009);     # nothing more is sent
}, path => '/dp-max1000');
case('max1000 text frame', 'limit 1000: a text frame declaring 1001 bytes '
     . 'gets 1009 before its payload is sent', sub {
    my $t = shift;
    $t->send(header_only(1, 1001));
    $t->server_close(1009);
}, path => '/dp-max1000');
case('max1000 fragments exact', 'limit 1000: fragments summing to 1000 are '
     . 'echoed as one message', sub {
    my $t = shift;
    $t->send(bin('a' x 600, fin => 0), cont('b' x 400));
    $t->expect([binary => ('a' x 600) . ('b' x 400)]);
    $t->client_close;
}, path => '/dp-max1000');
case('max1000 fragments', 'limit 1000: fragments 600 + 401 get 1009 when '
     . 'the second header arrives', sub {
    my $t = shift;
    $t->send(bin('a' x 600, fin => 0));
    $t->silence(0.3, 'after the first fragment (600 bytes)') or return;
    $t->send(header_only(0, 401));
    $t->server_close(1009);
}, path => '/dp-max1000');
case('max1000 many fragments', 'limit 1000: 11 fragments of 100 get 1009',
     sub {
    my $t = shift;
    my @f = map { cont('z' x 100, fin => 0) } 1 .. 11;
    $f[0] = text('z' x 100, fin => 0);
    $t->send(@f);
    $t->server_close(1009);
}, path => '/dp-max1000');
case('max1000 control frames do not count', 'limit 1000: pings inside a '
     . '1000-byte message do not count towards it', sub {
    my $t = shift;
    $t->send(text('q' x 500, fin => 0), ping('p' x 100), cont('q' x 500));
    $t->expect([pong => 'p' x 100], [text => 'q' x 1000]);
    $t->client_close;
}, path => '/dp-max1000');
for my $v (8, 7) {
    case("version $v max1000", "protocol version $v: a frame over the "
         . 'limit gets 1004 instead of 1009', sub {
        my $t = shift;
        $t->send(header_only(2, 1001));
        $t->server_close(1004);
    }, path => '/dp-max1000', connect => { version => $v });
    case("version $v echo", "protocol version $v: echo and clean close",
         sub {
        my $t = shift;
        $t->send(text("v$v"));
        $t->expect([text => "v$v"]);
        $t->client_close;
    }, path => '/dp-max1000', connect => { version => $v });
}
case('max30 ping 30', 'limit 30: a ping of 30 bytes is answered', sub {
    my $t = shift;
    $t->send(ping('p' x 30));
    $t->expect([pong => 'p' x 30]);
    $t->client_close;
}, path => '/dp-max30');
case('max30 ping 31', 'limit 30: a ping declaring 31 bytes gets 1009 '
     . 'before its payload is sent', sub {
    my $t = shift;
    $t->send(header_only(9, 31));
    $t->server_close(1009);
}, path => '/dp-max30');
case('max30 close 31', 'limit 30: a close frame of 31 bytes gets 1009',
     sub {
    my $t = shift;
    $t->send(closef(1000, 'r' x 29));
    $t->expect_close(1009);
}, path => '/dp-max30');
case('2^62', 'default limit: a frame declaring 2^62 bytes gets 1009 at '
     . 'once, and the server stays healthy', sub {
    my $t = shift;
    $t->send(header_only(2, 2**62));
    $t->server_close(1009);
    for my $i (1 .. 2) {
        my $u = Conformance->new(path => '/dp-echo');
        if ($u->alive) {
            $u->send(text("still alive $i"));
            $u->expect([text => "still alive $i"]);
            $u->client_close;
        }
        $t->adopt($u, "new connection $i after the 2^62 header");
    }
}, path => '/dp-echo');
case('32MiB+1', 'default limit (32 MiB): a frame declaring 33554433 bytes '
     . 'gets 1009 before its payload', sub {
    my $t = shift;
    $t->send(header_only(2, 33554433));
    $t->server_close(1009);
}, path => '/dp-echo');
# RFC 6455 section 5.2: the most significant bit of the 64-bit length MUST
# be 0 (SPEC is silent: a protocol error)
case('length MSB', 'a 64-bit length with the most significant bit set: '
     . '1002', sub {
    my $t = shift;
    $t->send(header_only(2, 2**63));
    $t->server_close(1002);
}, path => '/dp-echo');

# ---- framing rules Autobahn cannot test (its client always masks) ----------
case('unmasked', 'an unmasked client frame: 1002', sub {
    my $t = shift;
    $t->send(text('not masked', mask => 0));
    $t->server_close(1002);
}, path => '/dp-echo');
case('unmasked ping', 'an unmasked ping: 1002, no pong', sub {
    my $t = shift;
    $t->send(ping('not masked', mask => 0));
    $t->server_close(1002);
}, path => '/dp-echo');

# ---- UTF-8 at fragment boundaries ----------------------------------------
case('utf8 final fragment', 'a text message ending inside a code point at '
     . 'the final fragment: 1007', sub {
    my $t = shift;
    $t->send(text("abc\xce", fin => 0));
    $t->silence(0.3, 'after a fragment ending mid code point') or return;
    $t->send(cont(''));
    $t->server_close(1007);
}, path => '/dp-echo');
case('utf8 across fragments', 'a code point split across fragments is '
     . 'valid; an invalid continuation in the next fragment is 1007 before '
     . 'the message ends', sub {
    my $t = shift;
    $t->send(text("\xe2", fin => 0), cont("\x82", fin => 0),
             cont("\xac ok", fin => 0));
    $t->silence(0.3, 'after a valid split euro sign') or return;
    $t->send(cont("\xe2", fin => 0));
    $t->silence(0.3, 'after a lone lead byte') or return;
    $t->send(cont("\x28", fin => 0));       # not a continuation byte
    $t->problem('not fail-fast: no 1007 after the invalid continuation')
        unless $t->close_within(1);
    $t->server_close(1007);
}, path => '/dp-echo');
case('binary not validated', 'invalid UTF-8 in a binary message is echoed',
     sub {
    my $t = shift;
    my $p = "\xff\xfe\xed\xa0\x80\xc0\xaf";
    $t->send(bin($p));
    $t->expect([binary => $p]);
    $t->client_close;
}, path => '/dp-echo');

# ---- pings and pongs -------------------------------------------------------
case('ping mid-message', 'a ping inside a fragmented message is answered '
     . 'before the message completes', sub {
    my $t = shift;
    $t->send(text('part1 ', fin => 0), ping('mid'));
    $t->expect([pong => 'mid'], timeout => 2) or return;
    $t->silence(0.2, 'no echo before the message is complete') or return;
    $t->send(cont('part2'));
    $t->expect([text => 'part1 part2']);
    $t->client_close;
}, path => '/dp-echo');
case('unsolicited pong', 'an unsolicited pong is ignored (no reply, no '
     . 'error), the next message is echoed', sub {
    my $t = shift;
    $t->send(pong('unsolicited'));
    $t->silence(0.3, 'after an unsolicited pong') or return;
    $t->send(text('after pong'));
    $t->expect([text => 'after pong']);
    $t->client_close;
}, path => '/dp-echo');

# ---- plugin-initiated close (test plugin: message "close" -> close()) ------
case('plugin close', 'server->close(): a close frame without status code; '
     . 'the server waits for the reply, then closes TCP', sub {
    my $t = shift;
    $t->send(text('close'));
    unless ($t->close_within($TO)) {
        $t->problem('no close frame after the plugin called close()');
        return;
    }
    my $cl = $t->{close};
    $t->problem('close frame from close() has a payload of '
                . "$cl->{length} bytes (expected none)") if $cl->{length};
    my $c = $t->c;
    if ($c->wait_eof(timeout => 0.3)) {
        $t->problem('server closed TCP before the client answered the close');
        $t->{done} = 1;
        return;
    }
    $t->send(closef(undef));
    $t->expect_close(undef);    # checks EOF and that nothing follows
}, path => '/test');

# ---- bytes pipelined with the handshake ------------------------------------
my $pipe = join '', map { WSClient::encode_frame(%$_) }
    text('pipelined 1'), ping('pp'), bin("pipelined\x002");
case('pipelined', 'frames sent in the same write as the handshake request '
     . 'are processed as the first frames', sub {
    my $t = shift;
    $t->expect([text => 'pipelined 1'], [pong => 'pp'],
               [binary => "pipelined\x002"]);
    $t->client_close;
}, path => '/dp-echo', connect => { pipeline => $pipe });
case('pipelined close', 'a close pipelined with the handshake: reply 1000',
     sub {
    $_[0]->expect_close(1000);
}, path => '/dp-echo',
   connect => { pipeline => WSClient::encode_frame(%{ closef(1000) }) });

# ---- dumb-increment ----------------------------------------------------------
sub dumb_increment {
    my ($t, $t0) = @_;
    my $c = $t->c;
    my $proto = $c->header('Sec-WebSocket-Protocol');
    $t->problem('101 without Sec-WebSocket-Protocol: '
                . 'dumb-increment-protocol')
        unless defined $proto && $proto eq 'dumb-increment-protocol';
    my @v;
    while (@v < 11) {
        my $e = $t->next_event($TO) or last;
        last if $e->{kind} eq 'close';
        $t->{seen}++;
        push @v, $e->{data};
    }
    my $elapsed = time - $t0;
    $t->problem('expected "0".."10", got ' . join(',', @v))
        unless join(',', @v) eq join(',', 0 .. 10);
    # 10 intervals of 50 ms after the first value
    $t->problem(sprintf '"0".."10" took %.2fs from the connect (expected '
                . 'about 0.5s: 50 ms apart)', $elapsed)
        if $elapsed < 0.45 || $elapsed > 5;
    return $t->client_close(allow => sub { 1 }) if $t->problems;
    $t->send(text("reset\n"));
    my $before = $v[-1];
    my ($after, $n) = (undef, 0);
    my $deadline = time + 3;
    while (time < $deadline) {
        my $e = $t->next_event($deadline - time) or last;
        last if $e->{kind} eq 'close';
        $t->{seen}++;
        $n++;
        if ($e->{data} !~ /^\d+$/) {
            $t->problem("non-numeric message '$e->{data}'");
            last;
        }
        if ($e->{data} < $before) { $after = $e->{data}; last }
        $before = $e->{data};
    }
    $t->problem("no value smaller than before the reset ($before) within "
                . "3s ($n messages)") unless defined $after;
    # values sent while our close is in flight are fine
    $t->client_close(allow => sub {
        $_[0]{kind} eq 'text' && $_[0]{data} =~ /^\d+$/ });
}

case('dumb-increment', 'dumb-increment: 0, 1, 2, ... every ~50 ms; '
     . '"reset\n" starts again from 0', sub {
    my $t = shift;
    # timed from before the connect: value N cannot arrive before N * 50 ms
    my $t0 = time;
    my $u = Conformance->new(path => '/dumb-increment',
                             protocols => 'dumb-increment-protocol');
    dumb_increment($u, $t0) if $u->alive;
    $t->adopt($u);
}, noconnect => 1);
case('dumb-increment 403', 'dumb-increment without its subprotocol: 403',
     sub {
    my $t = shift;
    for my $p (undef, 'other-protocol') {
        my $c = eval { WSClient->connect(path => '/dumb-increment',
                                         defined $p ? (protocols => $p)
                                                    : ()) };
        my $what = defined $p ? "protocol '$p'" : 'no protocol';
        if (!$c) {
            $t->problem("$what: connect failed: $@");
        } elsif ($c->status != 403) {
            $t->problem("$what: got " . $c->status_line . ', expected 403');
        }
        $c->close_socket if $c;
    }
}, noconnect => 1);

plan tests => Conformance::ncases(), need_module 'mod_websocket.c';
Conformance::run_cases();
