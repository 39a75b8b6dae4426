# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# permessage-deflate (RFC 7692) against the echo plugin: negotiation of
# every parameter and every kind of invalid offer (declined, or 400 for a
# header that is not an extension-list), compressed echo from 0 B to
# 16 MiB, the RSV1 rules (1002), corrupt data (1007), decompression bombs
# stopped at WebSocketMaxMessageSize (1009, memory flat), the equivalent
# of Autobahn|Testsuite groups 12 and 13 (payload corpora x offers x
# server settings, byte for byte), and interop with python3-websockets and
# node-ws compressing in both directions.  Locations:
# t/conf/deflate.conf.in (/pmd*).  The client side is built on WSClient
# and Compress::Raw::Zlib: every server message is inflated with exactly
# the window that was agreed, and without context takeover with a fresh
# inflater, so a server that overstepped what it announced fails here.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore plan need_module ok is diag skip);
use Compress::Raw::Zlib qw(Z_OK Z_BUF_ERROR Z_STREAM_END Z_SYNC_FLUSH
                           Z_FINISH);
use JSON::PP ();
use Time::HiRes qw(time);
use WSClient;

my $TO = $ENV{WS_TEST_TIMEOUT} || 10;
my $PMD = 'permessage-deflate';
my $have_mem = eval { require WSMem; 1 };

# ---- client-side permessage-deflate -----------------------------------

# A window of 8 is what the server may ask for; zlib deflates with 9 at
# least, which our server inflates with a window >= 9 anyway.
sub deflater {
    my $bits = shift;
    $bits = 9 if $bits < 9;
    my ($d, $st) = Compress::Raw::Zlib::Deflate->new(
        -WindowBits => -$bits, -AppendOutput => 1, -MemLevel => 8);
    die "deflateInit: $st" unless $st == Z_OK;
    $d;
}

sub inflater {
    my $bits = shift;
    my ($i, $st) = Compress::Raw::Zlib::Inflate->new(
        -WindowBits => -$bits, -AppendOutput => 1, -Bufsize => 1 << 16,
        -ConsumeInput => 1, -LimitOutput => 0);
    die "inflateInit: $st" unless $st == Z_OK;
    $i;
}

# RFC 7692 7.2.1: one sync flush per message, 00 00 ff ff removed; an
# empty result (a flush right after a flush) is sent as a single 00
sub compress_msg {
    my ($d, $msg) = @_;
    my $out = '';
    $d->deflate($msg, $out) == Z_OK or die 'deflate';
    my $st = $d->flush($out, Z_SYNC_FLUSH);
    die "flush: $st" unless $st == Z_OK || $st == Z_BUF_ERROR;
    return "\0" if $out eq '';
    die 'no sync-flush trailer' unless substr($out, -4) eq "\0\0\xff\xff";
    substr($out, 0, -4);
}

# undef when the data is not a valid continuation of the stream
sub decompress_msg {
    my ($i, $payload) = @_;
    my $in = $payload . "\0\0\xff\xff";
    my $out = '';
    my $st = $i->inflate($in, $out);
    return undef unless $st == Z_OK || $st == Z_BUF_ERROR
                        || $st == Z_STREAM_END;
    $out;
}

# 'a; b=1; c' -> { a => 1, b => '1', c => 1 } (first extension only)
sub ext_params {
    my $h = shift;
    return undef unless defined $h;
    my ($name, @p) = split /\s*;\s*/, $h;
    return undef unless $name eq $PMD;
    my %p;
    for (@p) {
        my ($k, $v) = split /=/, $_, 2;
        $p{$k} = defined $v ? $v : 1;
    }
    \%p;
}

# A connection with what was agreed and the two compressors.
sub pmd_connect {
    my ($path, $offer, %o) = @_;
    my $c = WSClient->connect(path => $path, headers => [
        defined $offer ? ('Sec-WebSocket-Extensions' => $offer) : ()]);
    my $p = ext_params($c->header('Sec-WebSocket-Extensions'));
    my $s = { c => $c, p => $p };
    if ($p) {
        $s->{cbits} = $p->{client_max_window_bits} || 15;
        $s->{sbits} = $p->{server_max_window_bits} || 15;
        $s->{cnct} = $p->{client_no_context_takeover} ? 1 : 0;
        $s->{snct} = $p->{server_no_context_takeover} ? 1 : 0;
        $s->{def} = deflater($s->{cbits});
        $s->{inf} = inflater($s->{sbits});
    }
    $s;
}

sub send_msg {
    my ($s, $op, $data, %o) = @_;
    my $compress = exists $o{compress} ? $o{compress} : 1;
    if ($s->{p} && $compress) {
        # client_no_context_takeover: each message on its own
        $s->{def} = deflater($s->{cbits}) if $s->{cnct};
        my $z = compress_msg($s->{def}, $data);
        if ($o{fragments} && length $z > 1) {
            my $n = $o{fragments};
            my $step = int((length($z) + $n - 1) / $n) || 1;
            my @parts = map { substr $z, $_ * $step, $step }
                        0 .. int((length($z) - 1) / $step);
            # RSV1 on the first frame only (section 6.1)
            for my $k (0 .. $#parts) {
                $s->{c}->send_frame(opcode => $k ? 0 : $op,
                                    payload => $parts[$k],
                                    fin => $k == $#parts ? 1 : 0,
                                    rsv => $k ? 0 : 4);
            }
            return;
        }
        return $s->{c}->send_frame(opcode => $op, payload => $z, rsv => 4);
    }
    $s->{c}->send_frame(opcode => $op, payload => $data);
}

# The next data message, inflated: {opcode, rsv1, payload, wire} or undef
sub recv_msg {
    my ($s, %o) = @_;
    my ($op, $rsv1, $data, $bad) = (undef, 0, '', 0);
    while (1) {
        my $f = $s->{c}->read_frame(timeout => $o{timeout} || $TO)
            or return undef;
        next if $f->{opcode} == 9 || $f->{opcode} == 10;
        return { opcode => 8, close => $f } if $f->{opcode} == 8;
        if (defined $op) {
            $bad = 1 if $f->{rsv1};   # RSV1 on a continuation
        }
        else {
            ($op, $rsv1) = ($f->{opcode}, $f->{rsv1});
        }
        $data .= $f->{payload};
        last if $f->{fin};
    }
    my $m = { opcode => $op, rsv1 => $rsv1, wire => length $data,
              bad => $bad, payload => $data };
    if ($rsv1) {
        # server_no_context_takeover: inflate with a fresh window, which
        # proves the server did not refer to earlier messages
        $s->{inf} = inflater($s->{sbits}) if $s->{snct};
        $m->{payload} = decompress_msg($s->{inf}, $data);
    }
    $m;
}

sub echo_ok {
    my ($s, $op, $data, %o) = @_;
    send_msg($s, $op, $data, %o);
    my $m = recv_msg($s, timeout => $o{timeout});
    return 0 unless $m && defined $m->{opcode} && $m->{opcode} == $op
                    && !$m->{bad} && defined $m->{payload}
                    && $m->{payload} eq $data;
    return 0 if exists $o{want_rsv1} && $m->{rsv1} != $o{want_rsv1};
    1;
}

sub close_ok {
    my ($s, $want) = @_;
    $s->{c}->send_close(1000) unless defined $want;
    my $r = $s->{c}->read_until_close(timeout => $TO);
    my $code = $r->{code};
    diag("expected close $want, got " . (defined $code ? $code : 'none'))
        if defined $want && (!defined $code || $code != $want);
    defined $code && $code == (defined $want ? $want : 1000) && $r->{eof};
}

my @cases;
sub case { push @cases, [@_] }

# ---- negotiation -----------------------------------------------------
# [path, offer, status, answer (undef: no Sec-WebSocket-Extensions)]
my $S12 = 'server_max_window_bits=12';
my @nego = (
    ['/pmd', undef, 101, undef],
    ['/pmd', $PMD, 101, "$PMD; $S12"],
    # Chromium's and Firefox's offers
    ['/pmd', "$PMD; client_max_window_bits", 101,
     "$PMD; $S12; client_max_window_bits=12"],
    ['/pmd', "$PMD; client_max_window_bits=10", 101,
     "$PMD; $S12; client_max_window_bits=10"],
    ['/pmd', "$PMD; client_max_window_bits=15", 101,
     "$PMD; $S12; client_max_window_bits=12"],
    ['/pmd', "$PMD; server_max_window_bits=10", 101,
     "$PMD; server_max_window_bits=10"],
    ['/pmd', "$PMD; server_max_window_bits=15", 101, "$PMD; $S12"],
    ['/pmd', "$PMD; server_max_window_bits=9", 101,
     "$PMD; server_max_window_bits=9"],
    ['/pmd', "$PMD; server_no_context_takeover", 101,
     "$PMD; server_no_context_takeover; $S12"],
    ['/pmd', "$PMD; client_no_context_takeover", 101,
     "$PMD; client_no_context_takeover; $S12"],
    ['/pmd', "$PMD; server_max_window_bits=\"11\"", 101,
     "$PMD; server_max_window_bits=11"],
    # declined offers (RFC 7692 5.1): the connection goes on without
    ['/pmd', "$PMD; server_max_window_bits=8", 101, undef],
    ['/pmd', "$PMD; server_max_window_bits", 101, undef],
    ['/pmd', "$PMD; server_max_window_bits=16", 101, undef],
    ['/pmd', "$PMD; server_max_window_bits=010", 101, undef],
    ['/pmd', "$PMD; client_max_window_bits=7", 101, undef],
    ['/pmd', "$PMD; client_max_window_bits=x", 101, undef],
    ['/pmd', "$PMD; server_no_context_takeover=1", 101, undef],
    ['/pmd', "$PMD; client_no_context_takeover; client_no_context_takeover",
     101, undef],
    ['/pmd', "$PMD; unknown_parameter", 101, undef],
    ['/pmd', 'x-webkit-deflate-frame', 101, undef],
    # several offers: the first acceptable one
    ['/pmd', "$PMD; foo, $PMD; client_max_window_bits=9, $PMD", 101,
     "$PMD; $S12; client_max_window_bits=9"],
    ['/pmd', "$PMD; server_max_window_bits=8, $PMD; server_no_context_takeover",
     101, "$PMD; server_no_context_takeover; $S12"],
    # not an extension-list (RFC 6455 9.1): the handshake fails
    ['/pmd', "$PMD;", 400, undef],
    ['/pmd', "$PMD; client_max_window_bits=", 400, undef],
    ['/pmd', "$PMD; client_max_window_bits=\"10", 400, undef],
    ['/pmd', "$PMD foo", 400, undef],
    ['/pmd', ", ,", 400, undef],
    # server settings
    ['/pmd-off', "$PMD; client_max_window_bits", 101, undef],
    ['/pmd-off', "$PMD;", 101, undef],
    ['/pmd-w15', $PMD, 101, $PMD],
    ['/pmd-w15', "$PMD; client_max_window_bits", 101,
     "$PMD; client_max_window_bits=15"],
    ['/pmd-w9', "$PMD; client_max_window_bits",
     101, "$PMD; server_max_window_bits=9; client_max_window_bits=9"],
    ['/pmd-nct', $PMD, 101, "$PMD; server_no_context_takeover; $S12"],
    # nested sections merge field by field
    ['/pmd-nest/inner', $PMD, 101,
     "$PMD; server_no_context_takeover; server_max_window_bits=10"],
    ['/pmd-nest/off', $PMD, 101, undef],
);
for my $n (@nego) {
    my ($path, $offer, $status, $answer) = @$n;
    case("negotiate $path [" . (defined $offer ? $offer : 'no offer')
         . "] -> $status " . (defined $answer ? $answer : '(none)'), sub {
        my $c = WSClient->connect(path => $path, headers => [
            defined $offer ? ('Sec-WebSocket-Extensions' => $offer) : ()]);
        my $got = $c->header('Sec-WebSocket-Extensions');
        my $ok = $c->status == $status
                 && (defined $answer ? defined $got && $got eq $answer
                                     : !defined $got)
                 && $c->header_count('Sec-WebSocket-Extensions') <= 1;
        diag('got ' . $c->status . ' ' . (defined $got ? $got : '(none)'))
            unless $ok;
        return $ok unless $ok && $status == 101;
        # what was agreed works (or, declined, RSV1 is refused)
        my $s = pmd_connect($path, $offer);
        return echo_ok($s, 1, 'agreed ' x 20, want_rsv1 => 1)
               && close_ok($s) if defined $answer;
        $s->{c}->send_text('plain');
        my $m = recv_msg($s);
        $m && $m->{payload} eq 'plain' && !$m->{rsv1} or return 0;
        $s->{c}->send_frame(opcode => 1, payload => "\x4a\x04\x00", rsv => 4);
        close_ok($s, 1002);
    });
}

# ---- compressed echo, 0 B to 16 MiB ----------------------------------
{
    my @sizes = (0, 1, 125, 126, 127, 1000, 65535, 65536, 65537,
                 1 << 20, 16 << 20);
    for my $size (@sizes) {
        for my $op (1, 2) {
            case("echo $size bytes " . ($op == 1 ? 'text' : 'binary')
                 . ' compressed both ways', sub {
                my $s = pmd_connect('/pmd', "$PMD; client_max_window_bits");
                my $data = $op == 1
                    ? substr('lorem ipsum dolor sit amet ' x
                             (int($size / 27) + 1), 0, $size)
                    : join('', map { chr(($_ * 7 + ($_ >> 5)) & 255) }
                                   0 .. $size - 1);
                $data = substr(pack('N*', map { int rand 2**32 }
                                        1 .. $size / 4 + 1), 0, $size)
                    if $op == 2 && $size >= 1 << 20;
                my $t = $size > 1 << 20 ? 60 : $TO;
                echo_ok($s, $op, $data, timeout => $t, want_rsv1 => 1)
                    && echo_ok($s, $op, $data, timeout => $t,
                               want_rsv1 => 1)
                    && close_ok($s);
            });
        }
    }
    case('echo of a compressed message in 5 fragments (RSV1 on the first)',
         sub {
        my $s = pmd_connect('/pmd', $PMD);
        echo_ok($s, 1, 'fragmented ' x 500, fragments => 5, want_rsv1 => 1)
            && echo_ok($s, 2, "\x00\xff" x 3000, fragments => 3)
            && close_ok($s);
    });
    case('uncompressed messages (RSV1 clear) are accepted too', sub {
        my $s = pmd_connect('/pmd', $PMD);
        echo_ok($s, 1, 'not compressed', compress => 0, want_rsv1 => 1)
            && echo_ok($s, 1, 'compressed', want_rsv1 => 1)
            && close_ok($s);
    });
    case('a ping in the middle of a compressed fragmented message', sub {
        my $s = pmd_connect('/pmd', $PMD);
        my $z = compress_msg($s->{def}, 'x' x 1000 . 'y' x 1000);
        my $c = $s->{c};
        $c->send_frame(opcode => 1, payload => substr($z, 0, 5), fin => 0,
                       rsv => 4);
        $c->send_ping('mid');
        $c->send_frame(opcode => 0, payload => substr($z, 5), fin => 1);
        my $f = $c->read_frame(timeout => $TO);
        $f && $f->{opcode} == 10 && $f->{payload} eq 'mid' && !$f->{rsv1}
            or return 0;
        my $m = recv_msg($s);
        $m && $m->{payload} eq 'x' x 1000 . 'y' x 1000 && close_ok($s);
    });
    case('a ping answered uncompressed (control frames never are)', sub {
        my $s = pmd_connect('/pmd', $PMD);
        $s->{c}->send_ping('p' x 100);
        my $f = $s->{c}->read_frame(timeout => $TO);
        $f && $f->{opcode} == 10 && !$f->{rsv1} && $f->{payload} eq 'p' x 100
            && close_ok($s);
    });
    case('WebSocketDeflateMinSize 64: shorter replies go uncompressed', sub {
        my $s = pmd_connect('/pmd-min64', $PMD);
        echo_ok($s, 1, 'a' x 63, want_rsv1 => 0)
            && echo_ok($s, 1, 'a' x 64, want_rsv1 => 1)
            && echo_ok($s, 2, '', want_rsv1 => 0)
            && echo_ok($s, 1, 'b' x 1000, want_rsv1 => 1)
            && close_ok($s);
    });
    case('empty messages in a row (payload 00 each, 7.2.3.6)', sub {
        my $s = pmd_connect('/pmd', $PMD);
        for (1 .. 3) {
            send_msg($s, 1, '');
            my $m = recv_msg($s) or return 0;
            return 0 unless $m->{rsv1} && $m->{wire} == 1
                            && $m->{payload} eq '';
        }
        echo_ok($s, 1, 'after') && close_ok($s);
    });
    case('a client message ending in a final block (BFINAL), then more',
         sub {
        my $s = pmd_connect('/pmd', $PMD);
        my ($d) = Compress::Raw::Zlib::Deflate->new(-WindowBits => -15,
                                                    -AppendOutput => 1);
        my $z = '';
        $d->deflate('final block message', $z);
        $d->flush($z, Z_FINISH);
        $s->{c}->send_frame(opcode => 1, payload => $z, rsv => 4);
        my $m = recv_msg($s);
        $m && $m->{payload} eq 'final block message'
            && echo_ok($s, 1, 'next message') && close_ok($s);
    });
}

# ---- protocol errors -------------------------------------------------
case('RSV1 on a continuation frame: 1002', sub {
    my $s = pmd_connect('/pmd', $PMD);
    my $z = compress_msg($s->{def}, 'hello hello hello');
    $s->{c}->send_frame(opcode => 1, payload => substr($z, 0, 3), fin => 0,
                        rsv => 4);
    $s->{c}->send_frame(opcode => 0, payload => substr($z, 3), rsv => 4);
    close_ok($s, 1002);
});
case('RSV1 on a ping: 1002', sub {
    my $s = pmd_connect('/pmd', $PMD);
    $s->{c}->send_frame(opcode => 9, payload => "\x02\x00", rsv => 4);
    close_ok($s, 1002);
});
case('RSV1 on a close: 1002', sub {
    my $s = pmd_connect('/pmd', $PMD);
    $s->{c}->send_frame(opcode => 8, payload => "\x03\xe8", rsv => 4);
    close_ok($s, 1002);
});
case('RSV2 and RSV3 stay unclaimed: 1002', sub {
    my $s = pmd_connect('/pmd', $PMD);
    $s->{c}->send_frame(opcode => 1, payload => "\x02\x00", rsv => 6);
    close_ok($s, 1002);
});
case('RSV1 without permessage-deflate agreed: 1002', sub {
    my $s = pmd_connect('/pmd', undef);
    $s->{c}->send_frame(opcode => 1, payload => "\x4a\x04\x00", rsv => 4);
    close_ok($s, 1002);
});
for my $bad (["\xff\xff\xff\xff", 'reserved block type'],
             ["\x00\x05\x00\x00\x00", 'stored block length mismatch'],
             ["\x04\xc0\x81\x08\x00\x00\x00\x00\x20\x7f\xeb\x0b\x00\x00",
              'dynamic block with bad code lengths']) {
    case("corrupt compressed data ($bad->[1]): 1007", sub {
        my $s = pmd_connect('/pmd', $PMD);
        $s->{c}->send_frame(opcode => 2, payload => $bad->[0], rsv => 4);
        close_ok($s, 1007);
    });
}
case('compressed text that inflates to invalid UTF-8: 1007', sub {
    my $s = pmd_connect('/pmd', $PMD);
    send_msg($s, 1, "valid \xce\xba then \xff invalid");
    close_ok($s, 1007);
});

# ---- decompression bombs ----------------------------------------------
{
    # 256 MiB of zeros in about 256 KiB, at a location limited to 100000
    my ($d) = Compress::Raw::Zlib::Deflate->new(-WindowBits => -15,
                                                -AppendOutput => 1,
                                                -Level => 9);
    my $bomb = '';
    my $chunk = "\0" x (1 << 20);
    $d->deflate($chunk, $bomb) for 1 .. 256;
    $d->flush($bomb, Z_SYNC_FLUSH);
    substr($bomb, -4) = '';
    case('bomb: ' . length($bomb) . ' bytes inflating to 256 MiB, limit '
         . '100000: 1009 at once, server memory flat', sub {
        my $s = pmd_connect('/pmd-max', $PMD);
        my $before = $have_mem && !WSMem::mem_skip()
                     ? WSMem::snapshot() : undef;
        my $t0 = time;
        $s->{c}->send_frame(opcode => 2, payload => $bomb, rsv => 4);
        my $ok = close_ok($s, 1009);
        my $dt = time - $t0;
        diag(sprintf 'bomb refused in %.3f s', $dt);
        if ($before) {
            my $grow = WSMem::growth_kb($before, WSMem::snapshot());
            diag("server RSS growth: $grow kB");
            $ok &&= $grow < 16 * 1024;
        }
        $ok && $dt < 10 * ($have_mem ? WSMem::slow_factor() : 1);
    });
    case('tiny bomb: a 1 KiB frame inflating past the limit: 1009', sub {
        my $s = pmd_connect('/pmd-max', "$PMD; client_no_context_takeover");
        send_msg($s, 2, "\0" x 100001);
        close_ok($s, 1009);
    });
    case('exactly at the limit (100000 inflated bytes) is echoed', sub {
        my $s = pmd_connect('/pmd-max', $PMD);
        echo_ok($s, 2, "\0" x 100000, want_rsv1 => 1)
            && echo_ok($s, 1, 'z' x 100000, fragments => 7)
            && close_ok($s);
    });
    case('a bomb spread over fragments: 1009', sub {
        my $s = pmd_connect('/pmd-max', $PMD);
        send_msg($s, 2, "\1" x 300000, fragments => 10);
        close_ok($s, 1009);
    });
}

# ---- Autobahn groups 12 and 13: corpora x offers x server settings ----
{
    my $lorem = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, '
              . 'sed do eiusmod tempor incididunt ut labore et dolore. ';
    srand(7692);
    my %corpus = (
        text   => sub { substr($lorem x ($_[0] / length($lorem) + 1), 0,
                               $_[0]) },
        random => sub { join '', map { chr int rand 256 } 1 .. $_[0] },
        json   => sub {
            my ($j, $k) = ('', 0);
            while (length($j) < $_[0]) {
                $k++;
                $j .= sprintf('{"id":%d,"name":"user%d","tags":["a","b"],'
                              . '"score":%.3f},', $k, $k % 97, rand);
            }
            substr($j, 0, $_[0]);
        },
        utf8   => sub {
            my $u = '';
            $u .= "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 \xf0\x9f\x98\x80 "
                while length($u) < $_[0] + 16;
            # cut at a character boundary
            my $s = substr($u, 0, $_[0]);
            $s =~ s/[\xc0-\xff][\x80-\xbf]*\z//;
            $s;
        },
    );
    my @sizes = (16, 64, 256, 1024, 4096, 16384, 65536, 131072);
    # Autobahn 12.* is the plain offer; 13.1-13.7 these parameter sets
    my @offers = (
        $PMD,
        "$PMD; client_no_context_takeover",
        "$PMD; client_max_window_bits=8",
        "$PMD; client_max_window_bits=15",
        "$PMD; client_no_context_takeover; client_max_window_bits=8",
        "$PMD; client_no_context_takeover; client_max_window_bits=15",
        "$PMD; server_no_context_takeover; server_max_window_bits=9, $PMD",
        "$PMD; client_max_window_bits; server_max_window_bits=10",
    );
    for my $path ('/pmd', '/pmd-w9', '/pmd-w15', '/pmd-nct') {
        for my $offer (@offers) {
            case("corpora echo at $path, offer [$offer]", sub {
                my $s = pmd_connect($path, $offer);
                $s->{p} or return 0;
                my $n = 0;
                for my $name (sort keys %corpus) {
                    for my $size (@sizes) {
                        my $data = $corpus{$name}->($size);
                        my $op = $name eq 'random' ? 2 : 1;
                        # every message twice: the second refers to the
                        # first when context is kept
                        for (1, 2) {
                            unless (echo_ok($s, $op, $data,
                                            want_rsv1 => 1)) {
                                diag("$name $size bytes failed");
                                return 0;
                            }
                            $n++;
                        }
                    }
                }
                $n == 2 * keys(%corpus) * @sizes && close_ok($s);
            });
        }
    }
}

# ---- interop -----------------------------------------------------------
my $PY = '/usr/bin/python3';
my $NODE = -x '/usr/bin/node' ? '/usr/bin/node' : undef;
my $port = Apache::Test::vars('port');
my $have_py = system("$PY -c 'import websockets' 2>/dev/null") == 0;
my $have_node = $NODE && system("NODE_PATH=/usr/share/nodejs $NODE -e "
                                . "'require(\"ws\")' 2>/dev/null") == 0;
sub run_json {
    my $cmd = shift;
    my $out = `$cmd 2>&1`;
    my $r = eval { JSON::PP::decode_json((split /\n/, $out)[-1]) };
    diag("interop output: $out") unless $r && $r->{ok};
    $r;
}
for my $path ('/pmd', '/pmd-w9', '/pmd-nct') {
    case("python3-websockets, compression both ways, at $path", sub {
        return 'skip:python3-websockets not installed' unless $have_py;
        my $r = run_json("WS_TEST_TIMEOUT=$TO $PY "
                         . "$FindBin::Bin/interop/deflate_client.py "
                         . "ws://127.0.0.1:$port$path");
        $r && $r->{ok} && $r->{extensions} =~ /^permessage-deflate/;
    });
    case("node-ws, perMessageDeflate both ways, at $path", sub {
        return 'skip:node-ws not installed' unless $have_node;
        my $r = run_json("WS_TEST_TIMEOUT=$TO NODE_PATH=/usr/share/nodejs "
                         . "$NODE $FindBin::Bin/interop/deflate_client.js "
                         . "ws://127.0.0.1:$port$path");
        $r && $r->{ok} && $r->{extensions} =~ /^permessage-deflate/;
    });
}

plan tests => scalar(@cases), need_module 'mod_websocket.c';
for my $c (@cases) {
    my ($name, $code) = @$c;
    my $ok = eval { $code->() };
    diag("died: $@") if $@;
    if (defined $ok && $ok =~ /^skip:(.*)/) {
        SKIP: { skip($1, 1) }
        next;
    }
    ok($ok, $name);
}
