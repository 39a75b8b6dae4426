# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# mod_websocket inside httpd's standard filter chain (t/conf/stack.conf.in):
#   - wss:// through mod_ssl (vhost mod_ssl): echo, ping, close, size
#     limit, 64 plugin threads sending while the client sends, and TLS
#     records cut anywhere on the wire (t/tools/tls-pieces.py): no byte
#     may stay stranded in mod_ssl (every message answered at once);
#   - mod_deflate and mod_reqtimeout alongside (vhost deflate: SetOutputFilter
#     DEFLATE, RequestReadTimeout body=2): the 101 and the frames go out
#     untouched, an idle WebSocket outlives the body timeout;
#   - WebSockets over HTTP/2 (RFC 8441, mod_http2 with H2WebSockets on):
#     h2 over TLS (ALPN, vhost mod_ssl) and cleartext h2c with prior
#     knowledge (vhost h2c), driven by t/h2/h2ws.py (python3-h2), with
#     permessage-deflate negotiated on the extended CONNECT and a client
#     that sends END_STREAM with the CONNECT itself.
# The Autobahn walk over TLS is t/conformance_tls.t, over HTTP/2
# t/conformance_h2.t and t/conformance_h2c.t.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp ();
use JSON::PP ();
use Time::HiRes qw(time sleep);
use Apache::Test qw(plan ok skip need_module have_module);
use Apache::TestRequest ();
use Apache::TestUtil qw(t_cmp);
use WSClient;
use WSTest qw(case ncases run_cases log_mark wait_log count_log vhost_port);

my $T = $WSClient::TIMEOUT;
my $PY = '/usr/bin/python3';          # Debian's, with python3-h2
my $have_ssl = have_module('mod_ssl.c');
# mod_http2 is inactive on the prefork MPM (it says so at start-up,
# AH10034): the HTTP/2 cases then skip
my $have_h2 = have_module('mod_http2.c')
              && (Apache::Test::config()->{server}{mpm} // '') ne 'prefork'
              && system($PY, '-c', 'import h2') == 0;
my $CA = do {
    my $v = Apache::Test::vars();
    "$v->{sslca}/$v->{sslcaorg}/certs/ca.crt";
};
my $tagn = 0;
sub newtag { sprintf 'stack-%d-%d', $$, ++$tagn }

# runs a helper script (JSON on stdout); undef and a diagnostic if it
# printed no JSON
sub run_json {
    my @cmd = @_;
    open my $fh, '-|', @cmd or die "cannot run $cmd[0]: $!\n";
    my $out = do { local $/; <$fh> };
    close $fh;
    my $r = eval { JSON::PP->new->decode($out) };
    print "# no JSON from @cmd[0..1]: $out\n" unless $r;
    print "# helper error: $r->{error}\n" if $r && $r->{error};
    $r;
}

# t/h2/h2ws.py: one RFC 8441 WebSocket; $how is 'h2' (TLS, vhost mod_ssl)
# or 'h2c' (cleartext, vhost h2c); a hashref among the headers holds
# options (end_stream => 1: END_STREAM on the extended CONNECT)
sub h2ws {
    my ($how, $path, $script, @headers) = @_;
    my %o = map { %$_ } grep { ref } @headers;
    @headers = grep { !ref } @headers;
    my @a = ($PY, "$FindBin::Bin/h2/h2ws.py", '--timeout', $T,
             '--path', $path);
    push @a, '--end-stream' if $o{end_stream};
    push @a, $how eq 'h2' ? ('--tls', '--ca', $CA,
                             '--port', vhost_port('mod_ssl', 1))
                          : ('--port', vhost_port('h2c'));
    push @a, '--header', $_ for @headers;
    # the script goes through a file: a big payload exceeds what one
    # command-line argument may hold
    my $tmp = File::Temp->new(SUFFIX => '.json');
    print $tmp JSON::PP->new->ascii->encode($script);
    close $tmp;
    run_json(@a, '@' . $tmp->filename) || {};
}

sub frames_of {
    my ($r, $op) = @_;
    [map { $_->{payload} } grep { $_->{opcode} == $op }
         @{ $r->{frames} || [] }];
}

# reads to the close frame; '' when TCP then ends with nothing after it
sub close_and_eof {
    my ($c, $code) = @_;
    $c->send_close($code) if defined $code;
    my $r = $c->read_until_close(reply => !defined $code);
    return 'no close frame' unless $r->{close};
    return "trailing bytes: " . length $r->{trailing} if $r->{trailing} ne '';
    return $r->{eof} ? "close $r->{code}, eof" : 'no EOF';
}

# =========================================================================
# wss:// (HTTP/1.1 over mod_ssl)
# =========================================================================
case(7, 'wss: echo, ping, close', sub {
    unless ($have_ssl) { skip('mod_ssl not loaded') for 1 .. 7; return }
    my $c = WSClient->connect(ssl => 1, path => '/echo');
    ok t_cmp($c->status, 101, 'wss: 101');
    ok $c->accept_ok;
    $c->send_text('hello over TLS');
    my $f = $c->read_frame;
    ok t_cmp($f && $f->{payload}, 'hello over TLS', 'wss: text echoed');
    my $bin = join '', map { chr(($_ * 7) & 0xff) } 0 .. 70000;
    $c->send_binary($bin);
    $f = $c->read_frame;
    ok t_cmp($f && $f->{opcode} == 2 && $f->{payload} eq $bin ? 'same' : 'differs',
             'same', 'wss: 70001-byte binary echoed byte for byte');
    $c->send_ping('tls-ping');
    $f = $c->read_frame;
    ok t_cmp($f && "$f->{opcode}:$f->{payload}", '10:tls-ping', 'wss: pong');
    ok t_cmp(close_and_eof($c, 1000), 'close 1000, eof',
             'wss: close 1000 echoed, then TCP closes, nothing after');
    my $s = WSClient->connect(ssl => 1, path => '/size10');
    $s->send_text('x' x 11);
    ok t_cmp(close_and_eof($s), 'close 1009, eof',
             'wss: 11 bytes over a limit of 10: 1009');
});

case(6, 'wss: TLS records cut anywhere are answered at once', sub {
    unless ($have_ssl) { skip('mod_ssl not loaded') for 1 .. 6; return }
    my $r = run_json($PY, "$FindBin::Bin/tools/tls-pieces.py", '--port',
                     vhost_port('mod_ssl', 1), '--ca', $CA, '--timeout', $T)
            || {};
    ok t_cmp($r->{status}, 101, 'wss (own TLS client): 101');
    ok t_cmp($r->{pieces} && $r->{pieces}{echo}, 'pieces of one record',
             'a frame whose TLS record arrives 3 bytes at a time is echoed');
    ok(($r->{pieces}{latency} // 99) < 1.0);
    ok t_cmp(join(',', @{ $r->{record}{echoes} || [] }),
             join(',', map { "R $_" } 0 .. 9),
             '10 frames in one TLS record: all 10 echoed without more '
             . 'input (nothing stranded in mod_ssl)');
    ok t_cmp(join(',', @{ $r->{split}{early} || [] }), 'S 0,S 1,S 2',
             'a full record followed by half a record: its 3 frames are '
             . 'echoed before the rest arrives');
    ok t_cmp("$r->{split}{tail}/" . ($r->{close} // 'none'), 'S tail/1000',
             'the completed record is echoed, close 1000');
});

my $cycle = join '', map { chr($_ & 0xff) } 0 .. 4096 + 255;

case(5, 'wss: 64 plugin threads send while the client sends', sub {
    unless ($have_ssl) { skip('mod_ssl not loaded') for 1 .. 5; return }
    my $tag = newtag();
    my $mark = log_mark();
    my $c = WSClient->connect(ssl => 1, path => '/senders',
        headers => ['X-Tag' => $tag],
        pipeline => join '', map { WSClient::encode_frame(
            opcode => 1, payload => "E $_") } 0 .. 99);
    ok t_cmp($c->status, 101, 'wss senders: 101');
    my (%next, $close);
    my ($n, $bad, $disorder, $echoes, $echo_bad, $sent) = (0, 0, 0, 0, 0, 100);
    my $deadline = time + 3 * $T;
    while (time < $deadline) {
        if ($sent < 1000) {
            $c->send_text("E $sent");
            $c->send_text('done') if ++$sent == 1000;
        }
        my $f = $c->read_frame(timeout => $sent < 1000 ? 0.002
                                                       : $deadline - time);
        unless ($f) {
            next if $c->timed_out && $sent < 1000;
            last;
        }
        if ($f->{opcode} == 8) { $close = $f; last }
        if ($f->{opcode} == 1) {
            $f->{payload} eq "E $echoes" ? $echoes++ : $echo_bad++;
            next;
        }
        my $p = $f->{payload};
        my ($t, $i) = length $p >= 3 ? unpack('Cn', $p) : (99, 0);
        my $size = 3 + ($t * 2654435761 + $i * 40503) % 4094;
        if ($f->{opcode} != 2 || $f->{rsv} || $t >= 64 || length $p != $size
            || substr($p, 3) ne substr($cycle, ($t * 131 + $i * 7 + 3) & 0xff,
                                       $size - 3)) {
            $bad++;
            next;
        }
        $n++;
        $disorder++ if $i != ($next{$t} || 0);
        $next{$t} = $i + 1;
    }
    ok t_cmp("$n/$bad/$disorder", '12800/0/0',
             'wss: 64 x 200 binary messages intact and in order per thread');
    ok t_cmp("$echoes/$echo_bad", '1000/0',
             'wss: the client\'s 1000 messages echoed in order meanwhile');
    ok t_cmp($close ? WSClient::close_code($close) : 'none (stall?)', 1000,
             'wss: close 1000 once all threads are through');
    $c->send_close(1000);
    ok t_cmp(scalar(wait_log($mark,
                 qr/^ws_test_threads: disconnect tag=\Q$tag\E /m, $T)
                 ? 'disconnected' : 'no on_disconnect'), 'disconnected',
             'wss: on_disconnect ran');
});

# =========================================================================
# mod_deflate and mod_reqtimeout alongside (vhost deflate)
# =========================================================================
case(9, 'SetOutputFilter DEFLATE: the 101 and the frames are untouched', sub {
    my $res = do {
        no warnings 'once';
        local $Apache::TestRequest::Module = 'deflate';
        Apache::TestRequest::GET('/stack-big.html',
                                 'Accept-Encoding' => 'gzip');
    };
    ok t_cmp($res->header('Content-Encoding') // 'none', 'gzip',
             'control: the vhost really compresses pages');
    my $c = WSClient->connect(vhost => 'deflate', path => '/echo',
                              headers => ['Accept-Encoding' => 'gzip']);
    ok t_cmp($c->status, 101, 'deflate vhost: 101');
    ok $c->accept_ok;
    ok t_cmp($c->header('Content-Encoding') // 'none', 'none',
             'the 101 has no Content-Encoding');
    ok t_cmp(($c->header('Vary') // '') =~ /accept-encoding/i ? 'Vary' : '',
             '', 'nor a Vary: Accept-Encoding');
    # compressible text: a DEFLATE filter in the way would shrink it
    my $text = 'all work and no play makes a dull frame ' x 200;
    $c->send_text($text);
    my $f = $c->read_frame;
    ok t_cmp($f && "$f->{opcode}/$f->{rsv}/$f->{length}", "1/0/" . length $text,
             'frame header exact: text, no RSV bit, full length');
    ok t_cmp($f && $f->{payload} eq $text ? 'same' : 'differs', 'same',
             'payload byte for byte');
    $c->send_text('small');
    $f = $c->read_frame;
    ok t_cmp($f && $f->{payload}, 'small', 'a small frame, too');
    ok t_cmp(close_and_eof($c, 1000), 'close 1000, eof',
             'close, then EOF with nothing appended (no gzip trailer)');
});

case(3, 'RequestReadTimeout body=2: a WebSocket idle for 4 s lives on', sub {
    my $c = WSClient->connect(vhost => 'deflate', path => '/echo');
    ok t_cmp($c->status, 101, 'deflate vhost: 101');
    sleep 4;
    $c->send_text('still there');
    my $f = $c->read_frame;
    ok t_cmp($f && $f->{payload}, 'still there',
             'echo after 4 s of silence (reqtimeout body=2 is off the '
             . 'connection)');
    ok t_cmp(close_and_eof($c, 1000), 'close 1000, eof', 'clean close');
});

# =========================================================================
# HTTP/2: RFC 8441 extended CONNECT (mod_http2, H2WebSockets on)
# =========================================================================
for my $how (qw(h2 h2c)) {
    my $need = sub {
        my $n = shift;
        return 1 if $have_h2 && ($how eq 'h2c' || $have_ssl);
        skip("$how: mod_http2 (inactive on prefork), mod_ssl or python3-h2 missing") for 1 .. $n;
        0;
    };

    case(10, "$how: echo, ping, close", sub {
        $need->(10) or return;
        my $bin = join '', map { chr(($_ * 13) & 0xff) } 0 .. 70000;
        my $r = h2ws($how, '/echo', [
            [text => 'hello h2'], [read => 1, $T],
            [binary => $bin], [read => 1, $T],
            [ping => 'h2-ping'], [read => 1, $T],
            [split => 1, 'one frame in DATA frames of 1 byte', 1],
            [read => 1, $T],
            [batch => [map { [1, "B $_"] } 0 .. 9]], [read => 10, $T],
            [close => 1000, 'bye'], [read_close => $T]]);
        ok t_cmp($r->{connect_protocol}, 1,
                 "$how: SETTINGS_ENABLE_CONNECT_PROTOCOL = 1");
        ok t_cmp($how eq 'h2' ? $r->{alpn} // 'none' : 'h2', 'h2',
                 "$how: ALPN h2");
        ok t_cmp($r->{status}, 200, "$how: extended CONNECT answered 200");
        my $texts = frames_of($r, 1);
        ok t_cmp($texts->[0], 'hello h2', "$how: text echoed");
        my $bins = frames_of($r, 2);
        ok t_cmp(@$bins && $bins->[0] eq $bin ? 'same' : 'differs', 'same',
                 "$how: 70001-byte binary echoed byte for byte");
        ok t_cmp(frames_of($r, 10)->[0], 'h2-ping', "$how: pong");
        ok t_cmp($texts->[1], 'one frame in DATA frames of 1 byte',
                 "$how: a frame cut into 1-byte DATA frames is echoed");
        ok t_cmp(join(',', @{$texts}[2 .. $#$texts]),
                 join(',', map { "B $_" } 0 .. 9),
                 "$how: 10 frames in one DATA frame: 10 echoes");
        my $last = $r->{results}[-1] || {};
        ok t_cmp(($last->{close} // 'none') . '/' . ($last->{trailing} // '-'),
                 '1000/0', "$how: close 1000 echoed, nothing after it");
        ok t_cmp($r->{end} // 'open', 'end_stream',
                 "$how: then the stream ends (END_STREAM)");
    });

    case(5, "$how: size limit, subprotocol, refusal", sub {
        $need->(5) or return;
        my $r = h2ws($how, '/size10', [[text => 'x' x 11],
                                       [read_close => $T]]);
        ok t_cmp($r->{results}[-1]{close} // 'none', 1009,
                 "$how: 11 bytes over a limit of 10: 1009");
        $r = h2ws($how, '/dumb-increment', [[read => 3, $T],
                                            [close => 1000, ''],
                                            [read_close => $T]],
                  'sec-websocket-protocol=dumb-increment-protocol');
        ok t_cmp($r->{status}, 200, "$how: dumb-increment accepted");
        ok t_cmp($r->{headers}{'sec-websocket-protocol'} // 'none',
                 'dumb-increment-protocol',
                 "$how: the plugin's subprotocol reaches the client");
        ok t_cmp(join(',', @{ frames_of($r, 1) }), '0,1,2',
                 "$how: the counter ticks");
        $r = h2ws($how, '/dumb-increment', []);
        ok t_cmp($r->{status}, 403,
                 "$how: on_connect refusal is a 403 on the stream");
    });

    case(6, "$how: 64 plugin threads, client resets and drops", sub {
        $need->(6) or return;
        my $tag = newtag();
        my $mark = log_mark();
        my $r = h2ws($how, '/senders', [[senders => 3 * $T]], "x-tag=$tag");
        my $s = $r->{results}[0] || {};
        ok t_cmp(join('/', map { $s->{$_} // '?' }
                      qw(binaries bad disorder threads_complete)),
                 '12800/0/0/64',
                 "$how: 64 x 200 binary messages intact, in order per thread");
        ok t_cmp(($s->{echoes} // '?') . '/' . ($s->{echo_bad} // '?'),
                 '1000/0', "$how: 1000 client messages echoed meanwhile");
        ok t_cmp($s->{close} // 'none (stall?)', 1000,
                 "$how: close 1000 once the threads are through");
        ok wait_log($mark, qr/^ws_test_threads: disconnect tag=\Q$tag\E /m,
                    $T);
        # the client gives up on the stream or on the whole connection:
        # the session ends and on_disconnect runs once
        my %end;
        for my $act (qw(reset drop)) {
            my $t2 = newtag();
            my $m2 = log_mark();
            h2ws($how, '/count', [[text => 'x'], [read => 1, $T], [$act]],
                 "x-tag=$t2");
            my $re = qr/^ws_test_threads: disconnect tag=\Q$t2\E /m;
            wait_log($m2, $re, $T);
            sleep 0.3;
            $end{$act} = count_log($m2, $re);
        }
        ok t_cmp($end{reset}, 1, "$how: RST_STREAM: on_disconnect once");
        ok t_cmp($end{drop}, 1, "$how: TCP gone: on_disconnect once");
    });

    # a client whose extended CONNECT carries END_STREAM has left before
    # the WebSocket opened: the stream ends cleanly, and a client that
    # simply left is no error for the error_log
    case(4, "$how: END_STREAM on the extended CONNECT itself", sub {
        $need->(4) or return;
        my $tag = newtag();
        my $mark = log_mark();
        my $r = h2ws($how, '/count', [[wait_end => $T]], { end_stream => 1 },
                     "x-tag=$tag");
        ok t_cmp($r->{status}, 200, "$how: the WebSocket is accepted (200)");
        ok t_cmp($r->{end} // 'open', 'end_stream',
                 "$how: the server ends its side at once (END_STREAM, no "
                 . 'RST_STREAM)');
        my $re = qr/^ws_test_threads: disconnect tag=\Q$tag\E /m;
        wait_log($mark, $re, $T);
        sleep 0.3;
        ok t_cmp(count_log($mark, $re), 1, "$how: on_disconnect once");
        my @err = grep { /\[[\w.]+:(?:error|crit|alert|emerg)\]/ }
                  split /\n/, WSTest::log_since($mark);
        ok t_cmp(join("\n", @err), '',
                 "$how: no error-level line in the error_log");
    });

    # permessage-deflate (RFC 7692) offered and answered in the extended
    # CONNECT's sec-websocket-extensions: compressed messages both ways
    case(7, "$how: permessage-deflate over the extended CONNECT", sub {
        $need->(7) or return;
        my $text = 'all work and no play makes a dull frame ' x 200;
        my $bin = join '', map { chr(($_ * 7) & 0xff) x 3 } 0 .. 3000;
        my $r = h2ws($how, '/pmd', [
            [ztext => 'hello compressed'], [read => 1, $T],
            [ztext => $text], [read => 1, $T],
            [zbinary => $bin], [read => 1, $T],
            [text => 'sent uncompressed'], [read => 1, $T],
            [close => 1000, ''], [read_close => $T]],
            'sec-websocket-extensions=permessage-deflate; '
            . 'client_max_window_bits');
        ok t_cmp($r->{status}, 200, "$how: /pmd accepted");
        ok t_cmp($r->{headers}{'sec-websocket-extensions'} // 'none',
                 'permessage-deflate; server_max_window_bits=12; '
                 . 'client_max_window_bits=12',
                 "$how: permessage-deflate answered on the stream's 200");
        my @f = @{ $r->{frames} || [] };
        ok t_cmp(join(',', map { "$_->{opcode}/$_->{rsv}" } @f[0 .. 3]),
                 '1/4,1/4,2/4,1/4',
                 "$how: four echoes, each compressed (RSV1)");
        ok t_cmp($f[0] && $f[0]{payload}, 'hello compressed',
                 "$how: a compressed text inflates to the message");
        my $wire = $f[1] && $f[1]{payload} eq $text ? $f[1]{length} : undef;
        ok t_cmp(defined $wire && $wire < length($text) / 10
                 ? 'compressed'
                 : 'on the wire: ' . ($wire // 'not the message'),
                 'compressed',
                 "$how: 8000 repetitive bytes cross the stream in under "
                 . '800 and inflate byte for byte');
        ok t_cmp($f[2] && $f[2]{payload} eq $bin ? 'same' : 'differs',
                 'same',
                 "$how: a compressed binary message echoed byte for byte");
        ok t_cmp(($f[3] && $f[3]{payload}) . '/'
                 . (($r->{results}[-1] || {})->{close} // 'none') . '/'
                 . ($r->{end} // 'open'),
                 'sent uncompressed/1000/end_stream',
                 "$how: an uncompressed message is echoed too; close 1000, "
                 . 'END_STREAM');
    });
}

case(2, 'h2c: an idle WebSocket stream lives on', sub {
    unless ($have_h2) { skip('no mod_http2 (inactive on prefork) or python3-h2') for 1 .. 2; return }
    my $r = h2ws('h2c', '/echo', [[sleep => 4], [text => 'after idle'],
                                  [read => 1, $T], [close => 1000, ''],
                                  [read_close => $T]]);
    ok t_cmp(frames_of($r, 1)->[0] // 'none', 'after idle',
             'h2c: echo after 4 s of silence');
    ok t_cmp($r->{results}[-1]{close} // 'none', 1000, 'h2c: close 1000');
});

plan tests => ncases(), need_module 'mod_websocket.c';
run_cases();
