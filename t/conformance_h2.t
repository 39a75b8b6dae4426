# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# The RFC 6455 conformance walk of t/conformance.t (every case of
# Autobahn|Testsuite groups 1-7, 9 and 10, strict) over HTTP/2: each case
# is a WebSocket on an RFC 8441 extended CONNECT stream (mod_http2,
# H2WebSockets on), here over TLS with ALPN h2 (vhost mod_ssl);
# t/conformance_h2c.t runs it over cleartext h2c.  The case code is the
# same: t/h2/h2bridge.py (t/lib/H2Bridge.pm) carries the raw client's bytes
# as DATA frames, one read per frame, so chopped frames reach the server
# chopped; streams share h2 connections.  Where HTTP/2 differs the checks
# are mapped, not dropped: the server's close of the WebSocket is the end
# of its stream (END_STREAM, relayed as FIN; a RST_STREAM is relayed as a
# reset and fails the case).  The walk has no case about the HTTP/1.1
# handshake itself (t/handshake.t has those; over h2 mod_http2 makes the
# Sec-WebSocket-Key and checks the Accept).
# After the walk:
#   h2.1  six WebSockets at once on one new h2 connection (mod_http2
#         processes at most 6 streams at once on a new connection and
#         raises that as streams complete: a 7th would wait for a free
#         slot): interleaved messages, fragments and pings; a protocol
#         error (1002) on one stream leaves the others echoing;
#   h2.2  the transport: every case of the walk was one stream on an h2
#         connection that allowed extended CONNECT (ALPN h2 over TLS),
#         and the server ended every stream with END_STREAM: no RST_STREAM
#         before it, no GOAWAY with an error.
# Autobahn's full group 9 sizes (up to 16 MiB through the h2 flow control
# windows): the whole walk takes about 20 s per transport here;
# WS_CONFORMANCE_QUICK=1 scales the biggest payloads down.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore plan);
use H2Bridge ();
use Conformance qw(case);

our $H2_HOW;                    # 'h2c' when run by t/conformance_h2c.t
my $how = $H2_HOW || 'h2';
my $why = H2Bridge::available($how);
if ($why) {
    plan skip_all => $why;
    exit 0;
}
$ENV{WS_CONFORMANCE_H2} = $how;

case('h2.1', "6 WebSockets at once on one $how connection: interleaved "
     . 'echoes; a 1002 on one stream leaves the others alone', sub {
    my $t = shift;
    my $n = 6;
    # the first asks for a fresh h2 connection, the others join it
    my @w = map { Conformance->new(path => '/echo',
                      $_ ? () : (headers => ['X-H2-Bridge' => 'new'])) }
            0 .. $n - 1;
    my @alive = grep { $w[$_]->alive } 0 .. $n - 1;
    if (@alive < $n) {
        $t->adopt($w[$_], "ws $_") for 0 .. $n - 1;
        return;
    }
    my %conns = map { $_->{h2conn} => 1 } @w;
    my %sids = map { $_->{h2stream} => 1 } @w;
    $t->problem('the WebSockets are on ' . keys(%conns) . ' h2 connections, '
                . 'not one') if keys %conns != 1;
    $t->problem('two WebSockets share a stream') if keys %sids != $n;
    # one message each, all sent before any echo is read
    $w[$_]->send({ opcode => 1, payload => "message 1 of ws $_" })
        for 0 .. $n - 1;
    $w[$_]->expect([text => "message 1 of ws $_"]) for 0 .. $n - 1;
    # a fragmented message on every stream at once, a ping inside each
    for my $i (0 .. $n - 1) {
        $w[$i]->send({ opcode => 2, fin => 0, payload => "\x00first $i" },
                     { opcode => 9, payload => "ping $i" });
    }
    $w[$_]->expect([pong => "ping $_"]) for reverse 0 .. $n - 1;
    $w[$_]->send({ opcode => 0, payload => "\xfflast $_" }) for 0 .. $n - 1;
    $w[$_]->expect([binary => "\x00first $_\xfflast $_"]) for 0 .. $n - 1;
    # a reserved opcode fails the third WebSocket only
    $w[2]->send({ opcode => 3, payload => '' });
    $w[2]->server_close(1002);
    for my $i (grep { $_ != 2 } 0 .. $n - 1) {
        $w[$i]->send({ opcode => 1, payload => "after the 1002: ws $i" });
        $w[$i]->expect([text => "after the 1002: ws $i"]);
    }
    $w[$_]->client_close(code => 4000 + $_) for grep { $_ != 2 } 0 .. $n - 1;
    $t->adopt($w[$_], "ws $_") for 0 .. $n - 1;
    $t->{done} = 1;
}, noconnect => 1, last => 1);

case('h2.2', "transport: every case was one extended CONNECT stream over "
     . "$how, each ended by the server with END_STREAM", sub {
    my $t = shift;
    $t->{done} = 1;
    my $b = Conformance::bridge() or return $t->problem('no bridge');
    my $s = $b->stats or return $t->problem('the bridge gave no statistics');
    my ($streams, $peak) = (0, 0);
    for my $c (@{ $s->{connections} }) {
        my $id = "h2 connection $c->{conn}";
        $t->problem("$id: ALPN " . ($c->{alpn} // 'none') . ', not h2')
            if $how eq 'h2' && ($c->{alpn} // '') ne 'h2';
        $t->problem("$id: SETTINGS_ENABLE_CONNECT_PROTOCOL is "
                    . ($c->{connect_protocol} // 'missing') . ', not 1')
            unless ($c->{connect_protocol} // 0) == 1;
        $t->problem("$id: GOAWAY $c->{goaway}{code}")
            if $c->{goaway} && $c->{goaway}{code} ne 'NO_ERROR';
        $streams += $c->{streams};
        $peak = $c->{peak} if $c->{peak} > $peak;
    }
    my $cases = Conformance::connects();
    $t->problem("$streams streams for $cases WebSockets")
        if $streams != $cases;
    $t->problem("at most $peak streams at once on a connection (h2.1 "
                . 'opens 6)') if $peak < 6;
    my %e = %{ $s->{ends} || {} };
    my $ended = delete $e{end_stream} || 0;
    $t->problem("the server ended $ended of $streams streams with "
                . 'END_STREAM') if $ended != $streams;
    # RFC 9113 section 8.1: after a complete response the server may
    # reset the rest of the request with NO_ERROR
    delete $e{'rst_stream NO_ERROR after end_stream'};
    $t->problem("$_: $e{$_}") for sort keys %e;
    print "# $how: $streams streams on ", scalar @{ $s->{connections} },
          " h2 connection(s), at most $peak at once\n";
}, noconnect => 1, last => 1);

my $walk = "$FindBin::Bin/conformance.t";
unless (defined do $walk) {
    die "cannot run $walk: " . ($@ || $!) . "\n";
}
