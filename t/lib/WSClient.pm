package WSClient;
# Licensed under the Apache License, Version 2.0 (see LICENSE).

=head1 NAME

WSClient - raw-socket WebSocket client for the Apache::Test suite

=head1 SYNOPSIS

    use FindBin; use lib "$FindBin::Bin/lib";
    use WSClient;

    my $c = WSClient->connect(path => '/echo');       # handshake only
    ok $c->status == 101 && $c->accept_ok;
    $c->send_text('hello');
    my $f = $c->read_frame;                           # {opcode, fin, rsv, payload}
    $c->send_close(1000, 'bye');
    my $r = $c->read_until_close;                     # frames, close, eof, trailing
    ok $r->{eof} && $r->{trailing} eq '' && $c->close_code == 1000;

=head1 API SUMMARY

Every network read is bounded by a timeout: C<$WSClient::TIMEOUT>, default 10 s
or C<$ENV{WS_TEST_TIMEOUT}>; most calls take a C<timeout> argument too.
Nothing here ever blocks forever; nothing dies on a protocol error (tests
assert on what came back).  C<connect> dies only when the TCP/TLS connection
itself cannot be made.

=head2 WSClient->connect(%args) -> $client

Opens a connection, writes the request, reads the response head (and for a
non-101 answer its body).  Arguments (all optional):

  path       request target, default '/echo'
  vhost      Apache::Test vhost name (module('NAME')); default: main server
  ssl        1: TLS (IO::Socket::SSL, verifies the Apache::Test CA); with no
             vhost given, the vhost 'mod_ssl' is used
  sni        TLS server name, default 'localhost' (the certificate's CN)
  ipv6       1: connect to [::1] on port vars('ws_ipv6_port') (see
             WSClient::ipv6_available); default Host is then [::1]:PORT
  port, peer explicit TCP port / address (override vhost/ipv6 lookup)
  method     'GET';  http => 'HTTP/1.1' (protocol of the request line)
  host       Host header value; default 'localhost:PORT' ([::1]:PORT with
             ipv6); host => undef omits the header
  upgrade    Upgrade value, default 'websocket'; undef omits
  connection Connection value, default 'Upgrade'; undef omits
  key        Sec-WebSocket-Key, default a random valid key; undef omits
  version    Sec-WebSocket-Version, default 13; undef omits
  protocols  Sec-WebSocket-Protocol: string or arrayref (joined ', ');
             default none
  origin     Origin header (default none)
  ws_origin  Sec-WebSocket-Origin header (the version 7 form; default none)
  headers    more headers, arrayref of name => value pairs (order and
             duplicates kept) or hashref (sorted by name); appended last
  raw        a complete request string sent verbatim (every option above
             that builds the request is ignored)
  pipeline   bytes written in the same write right after the request
             (e.g. WSClient::encode_frame(...) for pipelined frames)
  timeout    seconds for this handshake

Accessors of the returned object:

  $c->status        status code as number (0 if no/invalid status line)
  $c->status_line   e.g. 'HTTP/1.1 101 Switching Protocols'
  $c->headers       hashref: lower-cased name => value (repeated headers
                    joined with ', ')
  $c->header($name) one header, case-insensitive, or undef
  $c->header_lines  arrayref of [Name, value] exactly as received, in order
  $c->header_count($name)  how many times the header occurred
  $c->head          the raw response head (without the final CRLFCRLF)
  $c->accept_ok     1 if Sec-WebSocket-Accept is exactly base64(SHA-1(key .
                    GUID)) (Digest::SHA), else 0
  $c->key           the Sec-WebSocket-Key sent (undef if none)
  $c->leftover      for a 101: the bytes received right after the head
                    (they are also the start of the frame stream)
  $c->body          for a non-101: the body (Content-Length, chunked, or up
                    to EOF with Connection: close; '' for HEAD/204/304)
  $c->request       the request bytes that were sent
  $c->sock          the socket

=head2 Sending

  $c->send_frame(%f)   writes one frame; returns the bytes written.
      opcode   0..15 (default 1 = text)
      payload  bytes (default '')
      fin      default 1
      rsv      3-bit value 0..7 (4 = RSV1, 2 = RSV2, 1 = RSV3); default 0
      mask     default 1; 0 sends an unmasked frame
      mask_key explicit 4-byte key (implies mask => 1 unless mask => 0)
      length   declared payload length to put in the header instead of the
               real one (a lying header); the real payload is still sent
      len_bits force the length form: 7, 16 or 64 (non-minimal encodings)
  WSClient::encode_frame(%f)  same arguments, returns the bytes (no I/O)
  $c->send_raw($bytes, chunk => N, delay => S)  write bytes, optionally N
      bytes at a time with S seconds between the pieces; returns 1 if all
      were written (0 if the peer had gone)
  $c->send_text($s, %f), send_binary($b, %f), send_ping($p, %f),
  $c->send_pong($p, %f)
  $c->send_close($code, $reason, %f)   code undef = empty close payload
  $c->send_fragments(\@parts, opcode => 1, %f)   first frame carries the
      opcode, the rest are continuations, the last has FIN; %f applies to
      every frame
  $c->shutdown_write   half-close (TCP FIN); $c->close_socket

=head2 Receiving

  $c->read_frame(timeout => S) -> {opcode, fin, rsv, rsv1, rsv2, rsv3,
      masked, length, payload, code, reason} or undef.  code/reason are set
      for close frames (code undef when the payload is empty).  On undef,
      $c->eof is true when the server closed the TCP connection (also on
      ECONNRESET: $c->reset), $c->timed_out when nothing complete arrived in
      time.  Bytes of an incomplete frame stay in $c->pending.
  $c->read_until_close(timeout => S, reply => 0|1, eof_timeout => S) ->
      { frames   => [all frames read, incl. the close frame],
        close    => the close frame or undef,
        code     => its status code (undef if none), reason => its reason,
        eof      => 1 if the server closed TCP after the close frame (or
                    before any close frame) within the timeout,
        timed_out=> 1 if no close frame (and no EOF) arrived in time,
        trailing => bytes that followed the close frame ('' if none),
        reset    => 1 if the end was a TCP reset }
      reply => 1 answers the server's close with a close carrying the same
      code (what a conforming client does; needed when the server started
      the closing handshake and waits for the client).
  $c->wait_eof(timeout => S) -> 1 if the server closed TCP in time (any
      bytes that arrived meanwhile are appended to $c->{trailing_bytes})
  $c->close_code / $c->close_reason  of the last close frame received
  WSClient::close_code($frame) / close_reason($frame) as functions too
  WSClient::accept_for($key)  the expected Sec-WebSocket-Accept
  WSClient::random_key()      a fresh valid Sec-WebSocket-Key
  WSClient::ipv6_available()  1 if the test server listens on [::1]

=cut

use strict;
use warnings FATAL => 'all';

use IO::Socket::IP ();
use IO::Select ();
use Socket qw(SOL_SOCKET);
use Errno qw(EINTR EAGAIN ECONNRESET EPIPE);
use Time::HiRes qw(time sleep);
use Digest::SHA qw(sha1_base64);
use MIME::Base64 qw(encode_base64);

our $TIMEOUT = $ENV{WS_TEST_TIMEOUT} || 10;
our $GUID    = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

$SIG{PIPE} = 'IGNORE';   # a server that closed must not kill the test

# ---- helpers without I/O ---------------------------------------------

sub random_key {
    encode_base64(join('', map { chr int rand 256 } 1 .. 16), '');
}

sub accept_for {
    my $key = shift;
    sha1_base64($key . $GUID) . '=';
}

sub close_code {
    my $f = shift;
    return $f->{code} if ref $f eq 'HASH';
    return $f->{last_close} ? $f->{last_close}{code} : undef;   # method
}

sub close_reason {
    my $f = shift;
    return $f->{reason} if ref $f eq 'HASH';
    return $f->{last_close} ? $f->{last_close}{reason} : undef;
}

sub encode_frame {
    my %f = @_;
    my $opcode  = defined $f{opcode} ? $f{opcode} : 1;
    my $payload = defined $f{payload} ? $f{payload} : '';
    utf8::encode($payload) if utf8::is_utf8($payload);
    my $fin  = exists $f{fin} ? ($f{fin} ? 1 : 0) : 1;
    my $rsv  = ($f{rsv} || 0) & 7;
    my $mask = exists $f{mask} ? ($f{mask} ? 1 : 0) : 1;
    my $key  = $f{mask_key};
    $key = pack 'C4', map { int rand 256 } 1 .. 4 if $mask && !defined $key;
    die "mask_key must be 4 bytes\n" if $mask && length $key != 4;
    my $len = defined $f{length} ? $f{length} : length $payload;

    my $bits = $f{len_bits} || ($len < 126 ? 7 : $len < 65536 ? 16 : 64);
    my $out = pack 'C', ($fin << 7) | ($rsv << 4) | ($opcode & 0x0f);
    my $m = $mask ? 0x80 : 0;
    if ($bits == 7) {
        die "length $len does not fit the 7-bit form\n" if $len > 127;
        $out .= pack 'C', $m | $len;
    } elsif ($bits == 16) {
        $out .= pack 'Cn', $m | 126, $len;
    } else {
        $out .= pack 'CNN', $m | 127, int($len / 4294967296), $len % 4294967296;
    }
    if ($mask) {
        $out .= $key;
        my $k = $key x (int(length($payload) / 4) + 1);
        $payload ^= substr $k, 0, length $payload;
    }
    $out . $payload;
}

sub ipv6_available {
    require Apache::Test;
    my $vars = Apache::Test::vars();
    my $d = $vars->{defines} || '';
    return ($d =~ /\bWS_IPV6\b/ && $vars->{ws_ipv6_port}) ? 1 : 0;
}

# ---- connection --------------------------------------------------------

sub connect {
    my ($class, %a) = @_;
    my $timeout = $a{timeout} || $TIMEOUT;
    my $self = bless { buf => '', timeout => $timeout, eof => 0,
                       timed_out => 0, reset => 0, trailing_bytes => '' },
                     $class;

    my ($peer, $port, $hostport) = ($a{peer}, $a{port}, undef);
    if ($a{ipv6}) {
        require Apache::Test;
        $peer ||= '::1';
        $port ||= Apache::Test::vars()->{ws_ipv6_port};
        $hostport = "[::1]:$port";
    } elsif (!$port) {
        require Apache::Test;
        require Apache::TestRequest;
        my $vhost = $a{vhost} || ($a{ssl} ? 'mod_ssl' : undef);
        no warnings "once";
        local $Apache::TestRequest::Module = $vhost if $vhost;
        local $Apache::TestRequest::Scheme = 'https' if $a{ssl};
        $hostport = Apache::TestRequest::hostport();
        ($port) = $hostport =~ /:(\d+)$/;
    }
    $peer ||= '127.0.0.1';
    $hostport ||= "localhost:$port";
    die "WSClient: no port\n" unless $port;

    my $sock;
    if ($a{ssl}) {
        require IO::Socket::SSL;
        require Apache::Test;
        my $vars = Apache::Test::vars();
        my $ca = "$vars->{sslca}/$vars->{sslcaorg}/certs/ca.crt";
        $sock = IO::Socket::SSL->new(
            PeerAddr => $peer, PeerPort => $port, Timeout => $timeout,
            SSL_ca_file => $ca,
            SSL_verifycn_name => 'localhost',
            SSL_verifycn_scheme => 'http',
            SSL_hostname => exists $a{sni} ? $a{sni} : 'localhost',
        ) or die "WSClient: TLS connect to $peer:$port: "
               . "$! $IO::Socket::SSL::SSL_ERROR\n";
    } else {
        $sock = IO::Socket::IP->new(PeerHost => $peer, PeerPort => $port,
                                    Timeout => $timeout)
            or die "WSClient: connect to $peer:$port: $@\n";
    }
    binmode $sock;
    $self->{sock} = $sock;
    $self->{ssl}  = $a{ssl} ? 1 : 0;

    my $req;
    if (defined $a{raw}) {
        $req = $a{raw};
        ($self->{key}) = $req =~ /^Sec-WebSocket-Key:[ \t]*(\S*)/mi;
        $self->{method} = ($req =~ /^(\S+)/)[0] || '';
    } else {
        my $method = $a{method} || 'GET';
        $self->{method} = $method;
        my $path = defined $a{path} ? $a{path} : '/echo';
        my $http = $a{http} || 'HTTP/1.1';
        my $key  = exists $a{key} ? $a{key} : random_key();
        $self->{key} = $key;
        my @h;
        my $opt = sub {      # (arg name, header name, default)
            my ($arg, $name, $def) = @_;
            my $v = exists $a{$arg} ? $a{$arg} : $def;
            push @h, [$name, $v] if defined $v;
        };
        $opt->('host', 'Host', $hostport);
        $opt->('upgrade', 'Upgrade', 'websocket');
        $opt->('connection', 'Connection', 'Upgrade');
        push @h, ['Sec-WebSocket-Key', $key] if defined $key;
        $opt->('version', 'Sec-WebSocket-Version', 13);
        if (defined $a{protocols}) {
            my $p = ref $a{protocols} ? join(', ', @{ $a{protocols} })
                                      : $a{protocols};
            push @h, ['Sec-WebSocket-Protocol', $p];
        }
        push @h, ['Origin', $a{origin}] if defined $a{origin};
        push @h, ['Sec-WebSocket-Origin', $a{ws_origin}]
            if defined $a{ws_origin};
        if (ref $a{headers} eq 'ARRAY') {
            my @x = @{ $a{headers} };
            push @h, [splice @x, 0, 2] while @x;
        } elsif (ref $a{headers} eq 'HASH') {
            push @h, [$_, $a{headers}{$_}] for sort keys %{ $a{headers} };
        }
        $req = "$method $path $http\r\n"
             . join('', map { "$_->[0]: $_->[1]\r\n" } @h) . "\r\n";
    }
    $self->{request} = $req;
    my $out = $req . (defined $a{pipeline} ? $a{pipeline} : '');
    $self->send_raw($out);
    $self->_read_head($timeout);
    $self;
}

# ---- low-level reading -------------------------------------------------

# read more bytes into $self->{buf}; returns bytes read, 0 on EOF (sets
# eof), undef on timeout (sets timed_out)
sub _fill {
    my ($self, $deadline) = @_;
    my $sock = $self->{sock};
    return 0 if $self->{eof};
    while (1) {
        my $left = $deadline - time;
        my $ready = $self->{ssl} && $sock->pending;
        unless ($ready) {
            if ($left <= 0) { $self->{timed_out} = 1; return undef }
            my $sel = IO::Select->new($sock);
            my @r = $sel->can_read($left);
            unless (@r) {
                next if $! == EINTR && $deadline > time;
                $self->{timed_out} = 1;
                return undef;
            }
        }
        my $n = sysread $sock, $self->{buf}, 65536, length $self->{buf};
        if (!defined $n) {
            next if $! == EINTR || $! == EAGAIN
                 || ($self->{ssl} && $IO::Socket::SSL::SSL_ERROR
                     && "$IO::Socket::SSL::SSL_ERROR" =~ /WANT_READ/);
            $self->{reset} = 1 if $! == ECONNRESET;
            $self->{eof} = 1;
            return 0;
        }
        if ($n == 0) { $self->{eof} = 1; return 0 }
        return $n;
    }
}

sub _read_head {
    my ($self, $timeout) = @_;
    my $deadline = time + $timeout;
    $self->{timed_out} = 0;
    while ($self->{buf} !~ /\r\n\r\n/) {
        my $n = $self->_fill($deadline);
        last unless $n;
    }
    $self->{status} = 0;
    $self->{headers} = {};
    $self->{header_lines} = [];
    $self->{status_line} = '';
    $self->{body} = '';
    $self->{leftover} = '';
    my $i = index $self->{buf}, "\r\n\r\n";
    if ($i < 0) {                     # no complete head: keep what came
        $self->{head} = $self->{buf};
        return;
    }
    my $head = substr $self->{buf}, 0, $i;
    $self->{buf} = substr $self->{buf}, $i + 4;
    $self->{head} = $head;
    my ($sl, @lines) = split /\r\n/, $head;
    $self->{status_line} = $sl;
    ($self->{status}) = $sl =~ m{^HTTP/\d+\.\d+ (\d{3})};
    $self->{status} ||= 0;
    for my $l (@lines) {
        my ($k, $v) = $l =~ /^([^:]+):[ \t]*(.*?)[ \t]*$/ or next;
        push @{ $self->{header_lines} }, [$k, $v];
        my $lk = lc $k;
        $self->{headers}{$lk} = exists $self->{headers}{$lk}
            ? "$self->{headers}{$lk}, $v" : $v;
    }
    my $acc = $self->{headers}{'sec-websocket-accept'};
    $self->{accept_ok} = (defined $self->{key} && defined $acc
                          && $acc eq accept_for($self->{key})) ? 1 : 0;

    if ($self->{status} == 101) {
        $self->{leftover} = $self->{buf};
        return;
    }
    # a final non-101 answer: read its body
    my $st = $self->{status};
    return if $self->{method} eq 'HEAD' || $st == 204 || $st == 304
           || ($st >= 100 && $st < 200);
    my $h = $self->{headers};
    if (defined $h->{'content-length'} && $h->{'content-length'} =~ /^(\d+)$/) {
        my $cl = $1;
        while (length $self->{buf} < $cl) {
            last unless $self->_fill($deadline);
        }
        $self->{body} = substr $self->{buf}, 0, $cl, '';
    } elsif (($h->{'transfer-encoding'} || '') =~ /chunked/i) {
        my $body = '';
        while (1) {
            while ($self->{buf} !~ /\r\n/) {
                last unless $self->_fill($deadline);
            }
            last unless $self->{buf} =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//;
            my $n = hex $1;
            while (length $self->{buf} < $n + 2) {
                last unless $self->_fill($deadline);
            }
            if ($n == 0) {            # (trailers not expected)
                $self->{buf} =~ s/^\r\n//;
                last;
            }
            $body .= substr $self->{buf}, 0, $n, '';
            $self->{buf} =~ s/^\r\n//;
        }
        $self->{body} = $body;
    } elsif (($h->{connection} || '') =~ /close/i) {
        1 while $self->_fill($deadline);
        $self->{body} = $self->{buf};
        $self->{buf} = '';
    }
}

# ---- accessors ---------------------------------------------------------

sub status       { $_[0]{status} }
sub status_line  { $_[0]{status_line} }
sub headers      { $_[0]{headers} }
sub header       { $_[0]{headers}{ lc $_[1] } }
sub header_lines { $_[0]{header_lines} }
sub header_count {
    my ($self, $name) = @_;
    scalar grep { lc $_->[0] eq lc $name } @{ $self->{header_lines} };
}
sub head      { $_[0]{head} }
sub accept_ok { $_[0]{accept_ok} }
sub key       { $_[0]{key} }
sub leftover  { $_[0]{leftover} }
sub body      { $_[0]{body} }
sub request   { $_[0]{request} }
sub sock      { $_[0]{sock} }
sub eof       { $_[0]{eof} }
sub timed_out { $_[0]{timed_out} }
sub reset     { $_[0]{reset} }
sub pending   { $_[0]{buf} }

# ---- sending -----------------------------------------------------------

sub send_raw {
    my ($self, $bytes, %o) = @_;
    my $chunk = $o{chunk} || length($bytes) || 1;
    my $off = 0;
    while ($off < length $bytes) {
        my $piece = substr $bytes, $off, $chunk;
        my $done = 0;
        while ($done < length $piece) {
            my $n = syswrite $self->{sock}, $piece, length($piece) - $done,
                             $done;
            unless (defined $n) {
                next if $! == EINTR || $! == EAGAIN;
                return 0;            # EPIPE/ECONNRESET: peer is gone
            }
            $done += $n;
        }
        $off += length $piece;
        sleep $o{delay} if $o{delay} && $off < length $bytes;
    }
    1;
}

sub send_frame {
    my ($self, %f) = @_;
    my $bytes = encode_frame(%f);
    $self->send_raw($bytes) ? length $bytes : 0;
}

sub send_text   { my ($s, $p, %f) = @_; $s->send_frame(%f, opcode => 0x1, payload => $p) }
sub send_binary { my ($s, $p, %f) = @_; $s->send_frame(%f, opcode => 0x2, payload => $p) }
sub send_ping   { my ($s, $p, %f) = @_; $s->send_frame(%f, opcode => 0x9, payload => $p) }
sub send_pong   { my ($s, $p, %f) = @_; $s->send_frame(%f, opcode => 0xA, payload => $p) }

sub send_close {
    my ($self, $code, $reason, %f) = @_;
    my $p = '';
    if (defined $code) {
        $p = pack 'n', $code;
        if (defined $reason) {
            utf8::encode($reason) if utf8::is_utf8($reason);
            $p .= $reason;
        }
    }
    $self->send_frame(%f, opcode => 0x8, payload => $p);
}

sub send_fragments {
    my ($self, $parts, %f) = @_;
    my $opcode = defined $f{opcode} ? delete $f{opcode} : 1;
    my $bytes = '';
    for my $i (0 .. $#$parts) {
        $bytes .= encode_frame(%f, opcode => $i == 0 ? $opcode : 0,
                               fin => $i == $#$parts ? 1 : 0,
                               payload => $parts->[$i]);
    }
    $self->send_raw($bytes);
}

sub shutdown_write { shutdown $_[0]{sock}, 1 }

sub close_socket {
    my $self = shift;
    close $self->{sock} if $self->{sock};
}

# ---- receiving ---------------------------------------------------------

# parse one frame from the front of $self->{buf}; undef if incomplete
sub _parse {
    my $self = shift;
    my $b = \$self->{buf};
    return undef if length $$b < 2;
    my ($b0, $b1) = unpack 'CC', $$b;
    my $len = $b1 & 0x7f;
    my $off = 2;
    if ($len == 126) {
        return undef if length $$b < 4;
        $len = unpack 'n', substr $$b, 2, 2;
        $off = 4;
    } elsif ($len == 127) {
        return undef if length $$b < 10;
        my ($hi, $lo) = unpack 'NN', substr $$b, 2, 8;
        $len = $hi * 4294967296 + $lo;
        $off = 10;
    }
    my $masked = $b1 & 0x80 ? 1 : 0;
    my $key = '';
    if ($masked) {
        return undef if length $$b < $off + 4;
        $key = substr $$b, $off, 4;
        $off += 4;
    }
    return undef if length $$b < $off + $len;
    my $payload = substr $$b, $off, $len;
    substr($$b, 0, $off + $len) = '';
    if ($masked) {
        my $k = $key x (int($len / 4) + 1);
        $payload ^= substr $k, 0, $len;
    }
    my %f = (fin => $b0 >> 7, rsv => ($b0 >> 4) & 7,
             rsv1 => ($b0 >> 6) & 1, rsv2 => ($b0 >> 5) & 1,
             rsv3 => ($b0 >> 4) & 1, opcode => $b0 & 0x0f,
             masked => $masked, length => $len, payload => $payload);
    if ($f{opcode} == 8) {
        if ($len >= 2) {
            $f{code} = unpack 'n', $payload;
            $f{reason} = substr $payload, 2;
        } else {
            $f{code} = undef;
            $f{reason} = '';
        }
        $self->{last_close} = \%f;
    }
    \%f;
}

sub read_frame {
    my ($self, %o) = @_;
    my $deadline = time + ($o{timeout} || $self->{timeout});
    $self->{timed_out} = 0;
    while (1) {
        my $f = $self->_parse;
        return $f if $f;
        my $n = $self->_fill($deadline);
        return undef unless $n;
    }
}

sub read_until_close {
    my ($self, %o) = @_;
    my $timeout = $o{timeout} || $self->{timeout};
    my $deadline = time + $timeout;
    my %r = (frames => [], close => undef, code => undef, reason => undef,
             eof => 0, timed_out => 0, trailing => '', reset => 0);
    while (1) {
        my $left = $deadline - time;
        my $f = $left > 0 ? $self->read_frame(timeout => $left) : undef;
        unless ($f) {
            $r{timed_out} = $self->{eof} ? 0 : 1;
            $r{eof} = $self->{eof};
            $r{reset} = $self->{reset};
            $r{trailing} = $self->{buf};   # incomplete frame bytes, if any
            return \%r;
        }
        push @{ $r{frames} }, $f;
        last if $f->{opcode} == 8;
    }
    my $c = $r{frames}[-1];
    @r{qw(close code reason)} = ($c, $c->{code}, $c->{reason});
    if ($o{reply}) {
        $self->send_close($c->{code});
    }
    my $eof_deadline = time + ($o{eof_timeout} || $timeout);
    1 while $self->_fill($eof_deadline);
    $r{eof} = $self->{eof};
    $r{reset} = $self->{reset};
    $r{timed_out} = $self->{eof} ? 0 : 1;
    $r{trailing} = $self->{buf};
    $self->{buf} = '';
    \%r;
}

sub wait_eof {
    my ($self, %o) = @_;
    my $deadline = time + ($o{timeout} || $self->{timeout});
    1 while $self->_fill($deadline);
    $self->{trailing_bytes} .= $self->{buf};
    $self->{buf} = '';
    $self->{eof} ? 1 : 0;
}

sub DESTROY {
    my $self = shift;
    close $self->{sock} if $self->{sock};
}

1;
