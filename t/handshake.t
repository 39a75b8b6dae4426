# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# Opening handshake (SPEC.md section 3) over raw sockets: declined requests,
# 400s, versions, keys, subprotocols, origin checks (Same/Trusted/Off, v7,
# IPv6, https), the 101 itself, access control before the module.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(plan ok skip need_module);
use Apache::TestUtil qw(t_cmp);
use Apache::TestRequest ();
use MIME::Base64 qw(encode_base64);
use WSClient;
use WSTest qw(case ncases run_cases);

my $vars = Apache::Test::vars();
my $port = $vars->{port};
my $hp   = "localhost:$port";
my $ssl_port = $vars->{mod_ssl_port} || 0;
my $v6port = $vars->{ws_ipv6_port};
my $have_v6 = WSClient::ipv6_available();

# open a handshake on /test unless told otherwise
sub hs { WSClient->connect(path => '/test', @_) }

# finish an accepted connection cleanly so workers are not held
sub done {
    my $c = shift;
    return unless $c && $c->status == 101;
    $c->send_close(1000);
    $c->read_until_close(timeout => 5);
}

sub status_is {
    my ($want, $name, @args) = @_;
    case(1, $name, sub {
        my $c = hs(@args);
        ok t_cmp($c->status, $want, $name);
        done($c);
    });
}

# ---- declined: not ours, httpd's normal processing -------------------------
my %plain = (upgrade => undef, connection => undef, key => undef,
             version => undef);
status_is(404, 'plain GET on a websocket location: declined (404)', %plain);
case(2, 'plain GET of a file under a websocket <Directory>', sub {
    my $c = hs(path => '/wsdir/page.txt', %plain);
    ok t_cmp($c->status, 200, 'plain GET: served by httpd (200)');
    ok t_cmp($c->body, "plain file\n", 'plain GET: the file');
});
case(2, 'HTTP/1.0 upgrade request is declined', sub {
    my $c = hs(path => '/wsdir/page.txt', http => 'HTTP/1.0');
    ok t_cmp($c->status, 200, 'HTTP/1.0 upgrade: declined, file served');
    ok t_cmp($c->body, "plain file\n", 'HTTP/1.0 upgrade: body is the file');
});
status_is(404, 'no Upgrade header: declined', upgrade => undef);
status_is(404, 'no Connection header: declined', connection => undef);
status_is(404, 'Connection without upgrade token: declined',
          connection => 'keep-alive');
status_is(404, 'Connection token Upgrade-Insecure is not upgrade: declined',
          connection => 'keep-alive, Upgrade-Insecure');
status_is(404, 'Upgrade: foo: declined', upgrade => 'foo');
case(2, 'upgrade request where the handler is not websocket-handler', sub {
    my $c = hs(path => '/index.html');
    ok t_cmp($c->status, 200, 'upgrade request for a plain file: 200');
    ok t_cmp($c->body, "ok\n", 'upgrade request for a plain file: the file');
});

# ---- accepted variants -------------------------------------------------------
status_is(101, "Upgrade: $_ (case-insensitive)", upgrade => $_)
    for qw(WebSocket WEBSOCKET);
status_is(101, "Connection: $_", connection => $_)
    for 'keep-alive, Upgrade', 'Upgrade, keep-alive', 'keep-alive,upgrade',
        'UPGRADE';
status_is(101, 'Connection: keep-alive and Connection: Upgrade lines',
          connection => 'keep-alive', headers => [Connection => 'Upgrade']);
for my $v (13, 8, 7) {
    case(2, "version $v accepted", sub {
        my $c = hs(version => $v);
        ok t_cmp($c->status, 101, "version $v: 101");
        ok t_cmp($c->accept_ok, 1, "version $v: Sec-WebSocket-Accept");
        done($c);
    });
}

# ---- method, Host ------------------------------------------------------------
status_is(400, "$_ upgrade request: 400", method => $_) for qw(POST PUT);
case(2, 'HEAD upgrade request', sub {
    my $c = hs(method => 'HEAD');
    ok t_cmp($c->status, 400, 'HEAD upgrade request: 400');
    ok t_cmp($c->body, '', 'HEAD: no body');
});
status_is(400, 'HTTP/1.1 without Host: 400', host => undef);

# ---- Sec-WebSocket-Key ---------------------------------------------------------
my %bad_keys = (
    'missing'                 => undef,
    'empty'                   => '',
    'not base64'              => 'abc',
    '15 bytes'                => encode_base64('x' x 15, ''),
    '17 bytes'                => encode_base64('x' x 17, ''),
    '16 bytes without padding' => 'AAAAAAAAAAAAAAAAAAAAAA',
    'invalid character'       => 'AAAAAAAAAAAAAAAAAAAAA!==',
    'non-canonical last char' => 'AAAAAAAAAAAAAAAAAAAAAB==',
    'bad padding'             => 'AAAAAAAAAAAAAAAAAAAAAA=A',
    'extra padding'           => 'AAAAAAAAAAAAAAAAAAAAAA====',
    '16 bytes in 28 chars'    => 'AAAAAAAAAAAAAAAAAAAAAA==AAAA',
);
for my $k (sort keys %bad_keys) {
    status_is(400, "key $k: 400", key => $bad_keys{$k});
}
status_is(400, 'two Sec-WebSocket-Key headers: 400',
          headers => ['Sec-WebSocket-Key' => WSClient::random_key()]);
case(2, 'key using + and /', sub {
    my $c = hs(key => '+/+/+/+/+/+/+/+/+/+/+w==');
    ok t_cmp($c->status, 101, 'key with + and /: 101');
    ok t_cmp($c->accept_ok, 1, 'key with + and /: accept value');
    done($c);
});
status_is(101, 'request target with a query string', path => '/test?x=1&y=2');
case(2, 'canonical key with low bits zero', sub {
    my $c = hs(key => 'AAAAAAAAAAAAAAAAAAAAAQ==');
    ok t_cmp($c->status, 101, 'key ...AQ==: 101');
    ok t_cmp($c->accept_ok, 1, 'key ...AQ==: accept value');
    done($c);
});

# ---- Sec-WebSocket-Version -------------------------------------------------------
my @bad_versions = ([missing => undef], [12 => '12'], [abc => 'abc'],
                    [empty => ''], [14 => '14'], ['13, 8' => '13, 8'],
                    [0 => '0']);
for my $bv (@bad_versions) {
    my ($name, $v) = @$bv;
    case(3, "version $name", sub {
        my $c = hs(version => $v);
        ok t_cmp($c->status, 400, "version $name: 400");
        ok t_cmp($c->header('Sec-WebSocket-Version'), '13,8,7',
                 "version $name: Sec-WebSocket-Version: 13,8,7");
        ok t_cmp($c->header_count('Sec-WebSocket-Version'), 1,
                 "version $name: one Sec-WebSocket-Version header");
    });
}

# ---- Sec-WebSocket-Protocol ----------------------------------------------------------
for my $p ('', ',', ' , ,', 'a b', 'a;b', "ch\xc3\xa4t", 'a/b', 'chat, "x"') {
    status_is(400, "protocol list '$p': 400", protocols => $p);
}
my @plists = (['chat,,superchat', 'chat|superchat', 2],
              ['b, A, b', 'b|A|b', 3],
              ['chat, ', 'chat', 1],
              ["a,\tb", 'a|b', 2],
              ["a!#\$%&'*+-.^_`|~z, V2", "a!#\$%&'*+-.^_`|~z|V2", 2]);
for my $pl (@plists) {
    my ($offer, $list, $n) = @$pl;
    case(5, "protocols '$offer'", sub {
        my $c = hs(protocols => $offer);
        ok t_cmp($c->status, 101, "protocols '$offer': 101");
        ok t_cmp($c->header('X-Protocol-Count'), $n, "'$offer': count $n");
        ok t_cmp($c->header('X-Protocols'), $list, "'$offer': tokens in order");
        ok t_cmp($c->header('X-Index-Out-Of-Range'), 'null',
                 "'$offer': protocol_index(count) is NULL");
        ok t_cmp($c->header_count('Sec-WebSocket-Protocol'), 0,
                 "'$offer': none selected, none sent");
        done($c);
    });
}
case(2, 'two Sec-WebSocket-Protocol headers', sub {
    my $c = hs(headers => ['Sec-WebSocket-Protocol' => 'x',
                           'Sec-WebSocket-Protocol' => 'y']);
    ok t_cmp($c->status, 101, 'two protocol headers: 101');
    ok t_cmp($c->header('X-Protocols'), 'x|y', 'two protocol headers: x|y');
    done($c);
});
case(3, 'no protocol offered', sub {
    my $c = hs();
    ok t_cmp($c->header('X-Protocol-Count'), 0, 'no offer: count 0');
    ok t_cmp($c->header('X-Index-Out-Of-Range'), 'null',
             'no offer: protocol_index(0) is NULL');
    ok t_cmp($c->header_count('Sec-WebSocket-Protocol'), 0,
             'no offer: no Sec-WebSocket-Protocol');
    done($c);
});
case(3, 'plugin selects a subprotocol', sub {
    my $c = hs(protocols => 'superchat, chat',
               headers => ['X-Select-Protocol' => 'chat']);
    ok t_cmp($c->status, 101, 'selected: 101');
    ok t_cmp($c->header('Sec-WebSocket-Protocol'), 'chat',
             'selected: Sec-WebSocket-Protocol: chat');
    ok t_cmp($c->header_count('Sec-WebSocket-Protocol'), 1,
             'selected: exactly one header');
    done($c);
});
case(1, 'selected subprotocol is sent exactly as set', sub {
    my $c = hs(protocols => 'weird-case.v2',
               headers => ['X-Select-Protocol' => 'Weird-Case.V2']);
    ok t_cmp($c->header('Sec-WebSocket-Protocol'), 'Weird-Case.V2',
             'protocol_set value sent as given');
    done($c);
});

# ---- the 101 ------------------------------------------------------------------------
case(8, 'RFC 6455 sample key', sub {
    my $c = hs(key => 'dGhlIHNhbXBsZSBub25jZQ==');
    ok t_cmp($c->status_line, qr{^HTTP/1\.1 101 }, '101 status line');
    ok t_cmp($c->header('Sec-WebSocket-Accept'),
             's3pPLMBiTxaQ9kYGzzhZRbK+xOo=', 'RFC 6455 1.3 accept value');
    ok t_cmp($c->header('Upgrade'), 'websocket', 'Upgrade: websocket');
    ok t_cmp($c->header('Connection'), 'Upgrade', 'Connection: Upgrade');
    ok t_cmp($c->header_count('Upgrade'), 1, 'one Upgrade header');
    ok t_cmp($c->header_count('Connection'), 1, 'one Connection header');
    ok t_cmp($c->header_count('Sec-WebSocket-Accept'), 1,
             'one Sec-WebSocket-Accept header');
    ok t_cmp($c->leftover, '', 'nothing after the 101 head');
    done($c);
});
case(3, 'echo after handshake, frames pipelined with the request', sub {
    my $c = WSClient->connect(path => '/echo',
        pipeline => WSClient::encode_frame(opcode => 1, payload => 'early')
                  . WSClient::encode_frame(opcode => 2, payload => "\x00\xff"));
    ok t_cmp($c->status, 101, 'pipelined: 101');
    my $f1 = $c->read_frame;
    my $f2 = $c->read_frame;
    ok t_cmp($f1 && "$f1->{opcode}:$f1->{payload}", '1:early',
             'first pipelined frame echoed');
    ok t_cmp($f2 && "$f2->{opcode}:$f2->{payload}", "2:\x00\xff",
             'second pipelined frame echoed');
    done($c);
});

# ---- origin: Same ------------------------------------------------------------------
my @same = (
    # [name, path, %args, expected]
    ['default mode is Same: matching origin', '/test',
     [origin => "http://$hp"], 101],
    ['Same: matching origin', '/origin-same', [origin => "http://$hp"], 101],
    ['Same: default port omitted', '/origin-same',
     [host => 'localhost:80', origin => 'http://localhost'], 101],
    ['Same: default port spelled out', '/origin-same',
     [host => 'localhost:80', origin => 'http://localhost:80'], 403],
    # ap_get_server_port(): without a port in Host, the ServerName's port
    # (Apache::Test writes ServerName localhost:PORT)
    ['Same: Host without port: the ServerName port', '/origin-same',
     [host => 'localhost', origin => "http://$hp"], 101],
    ['Same: Host in upper case', '/origin-same',
     [host => "LOCALHOST:$port", origin => "http://$hp"], 101],
    ['Same: IPv4 literal host', '/origin-same',
     [host => "127.0.0.1:$port", origin => "http://127.0.0.1:$port"], 101],
    ['Same: wrong scheme', '/origin-same', [origin => "https://$hp"], 403],
    ['Same: wrong host', '/origin-same',
     [origin => "http://evil.example:$port"], 403],
    ['Same: wrong port', '/origin-same', [origin => 'http://localhost:1'], 403],
    ['Same: port missing', '/origin-same', [origin => 'http://localhost'], 403],
    ['Same: origin null', '/origin-same', [origin => 'null'], 403],
    ['Same: origin host in upper case', '/origin-same',
     [origin => "http://LOCALHOST:$port"], 403],
    ['Same: origin with a path', '/origin-same',
     [origin => "http://$hp/"], 403],
    ['Same: no Origin', '/origin-same', [], 101],
    ['default mode: wrong host', '/test',
     [origin => "http://evil.example:$port"], 403],
);
# ---- origin: Trusted ---------------------------------------------------------------
push @same, map { ["Trusted: $_->[0]", '/origin-trusted', $_->[1], $_->[2]] } (
    ['listed origin', [origin => 'http://good.example'], 101],
    ['listed origin with port', [origin => 'https://good.example:8443'], 101],
    ['origin from a second directive', [origin => 'http://third.example'], 101],
    ['unlisted origin', [origin => 'http://evil.example'], 403],
    ['same origin is not implied', [origin => "http://$hp"], 403],
    ['listed host with another port', [origin => 'http://good.example:80'], 403],
    ['listed host with another scheme', [origin => 'https://good.example'], 403],
    ['case differs', [origin => 'http://GOOD.example'], 403],
    ['no Origin', [], 101],
);
# ---- origin: Off -------------------------------------------------------------------
push @same, map { ["Off: $_->[0]", '/origin-off', $_->[1], 101] } (
    ['foreign origin', [origin => 'http://evil.example']],
    ['origin null', [origin => 'null']],
    ['no Origin', []],
);
# ---- origin header per version ---------------------------------------------------
push @same, (
    ['v7: Sec-WebSocket-Origin is checked', '/origin-same',
     [version => 7, ws_origin => 'http://evil.example'], 403],
    ['v7: matching Sec-WebSocket-Origin, Origin ignored', '/origin-same',
     [version => 7, ws_origin => "http://$hp",
      origin => 'http://evil.example'], 101],
    ['v7: only Origin (ignored): allowed', '/origin-same',
     [version => 7, origin => 'http://evil.example'], 101],
    ['v13: Sec-WebSocket-Origin ignored', '/origin-same',
     [ws_origin => 'http://evil.example'], 101],
    ['v8: Origin is checked', '/origin-same',
     [version => 8, origin => 'http://evil.example'], 403],
    ['v8: matching Origin', '/origin-same',
     [version => 8, origin => "http://$hp"], 101],
    ['v7 Trusted: listed Sec-WebSocket-Origin', '/origin-trusted',
     [version => 7, ws_origin => 'http://good.example'], 101],
);
for my $o (@same) {
    my ($name, $path, $args, $want) = @$o;
    case(1, $name, sub {
        my $c = hs(path => $path, @$args);
        ok t_cmp($c->status, $want, "origin $name: $want");
        done($c);
    });
}

# ---- origin over IPv6 --------------------------------------------------------------
for my $o (['matching [::1] origin', "http://[::1]:$v6port", 101],
           ['[::1] without port', 'http://[::1]', 403],
           ['localhost for [::1]', "http://localhost:$v6port", 403],
           ['no Origin', undef, 101],
           ['Host [::1] without port: the ServerName port',
            "http://[::1]:$v6port", 101,
            [host => '[::1]']]) {
    my ($name, $origin, $want, $more) = @$o;
    case(1, "IPv6 $name", sub {
        unless ($have_v6) {
            skip('[::1] not available (t/tools/run-apache-test)', 0);
            return;
        }
        my $c = hs(ipv6 => 1, defined $origin ? (origin => $origin) : (),
                   @{ $more || [] });
        ok t_cmp($c->status, $want, "IPv6 $name: $want");
        done($c);
    });
}

# ---- https (vhost mod_ssl) -----------------------------------------------------------
case(3, 'wss:// echo', sub {
    my $c = WSClient->connect(ssl => 1, path => '/echo');
    ok t_cmp($c->status, 101, 'wss: 101');
    ok t_cmp($c->accept_ok, 1, 'wss: accept value');
    $c->send_text('over tls');
    my $f = $c->read_frame;
    ok t_cmp($f && $f->{payload}, 'over tls', 'wss: echo');
    done($c);
});
for my $o (['https origin of this vhost', [origin => "https://localhost:$ssl_port"], 101],
           ['https default port omitted',
            [host => 'localhost:443', origin => 'https://localhost'], 101],
           ['https default port spelled out',
            [host => 'localhost:443', origin => 'https://localhost:443'], 403],
           ['http origin on https', [origin => "http://localhost:$ssl_port"], 403]) {
    my ($name, $args, $want) = @$o;
    case(1, $name, sub {
        my $c = WSClient->connect(ssl => 1, path => '/origin-same', @$args);
        ok t_cmp($c->status, $want, "$name: $want");
        done($c);
    });
}

# ---- access control runs first --------------------------------------------------------
case(2, 'Basic auth required', sub {
    my $c = hs(path => '/auth-basic');
    ok t_cmp($c->status, 401, 'no credentials: 401');
    ok t_cmp($c->header('WWW-Authenticate'), qr/^Basic /i,
             'no credentials: WWW-Authenticate');
});
status_is(401, 'wrong credentials: 401', path => '/auth-basic',
          headers => [Authorization => 'Basic '
                      . encode_base64('wsuser:nope', '')]);
status_is(101, 'valid credentials: 101', path => '/auth-basic',
          headers => [Authorization => 'Basic '
                      . encode_base64('wsuser:wspass', '')]);
status_is(403, 'Require all denied: 403', path => '/denied');

plan tests => ncases(), need_module 'mod_websocket.c';
run_cases();
