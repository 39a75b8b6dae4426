package Conformance;
# Licensed under the Apache License, Version 2.0 (see LICENSE).

=head1 NAME

Conformance - strict case driver on top of WSClient (t/conformance.t,
t/dataphase.t)

=head1 SYNOPSIS

    use Apache::Test qw(-withtestmore plan need_module ok diag);
    use Conformance;

    case('1.1.1', 'text message with empty payload', sub {
        my $t = shift;                         # a Conformance object
        $t->send({opcode => 1, payload => ''});
        $t->expect([text => '']);
        $t->client_close;                      # close 1000 -> reply 1000, EOF
    });
    plan tests => Conformance::ncases(), need_module 'mod_websocket.c';
    Conformance::run_cases();                  # one ok() per case

=head1 DESCRIPTION

Each case gets a fresh connection (path '/echo' unless the case says
otherwise) and records every deviation as a "problem"; the case passes when
there is none.  The checks a user would notice are built in and apply to
every case:

=over

=item * frames from the server are unmasked, have RSV 0, known opcodes,
control frames are unfragmented and <= 125 bytes, continuations belong to
an open message (messages are reassembled, so the server may fragment);

=item * the events received (messages, pongs, pings) are exactly the
expected ones, in order, byte for byte; nothing else arrives before the
close frame;

=item * the close frame carries exactly the expected status code, its
reason is valid UTF-8, nothing follows it, and the server closes TCP
(orderly FIN, not a reset) at once ($Conformance::PROMPT, 2 s).

=back

WS_CONFORMANCE_SSL=1 runs every case over TLS (the mod_ssl vhost).
WS_CONFORMANCE_H2=h2 (TLS, ALPN) or h2c (cleartext, prior knowledge) runs
every case as a WebSocket over HTTP/2 (RFC 8441): the client talks to
t/h2/h2bridge.py (t/lib/H2Bridge.pm), which turns each connection into an
extended CONNECT stream on shared h2 connections to httpd.  There the
server's close of the WebSocket is the end of its stream: END_STREAM is
relayed as an orderly FIN, a RST_STREAM as a reset, so the checks above
stay as they are; the 101 is the bridge's translation of the stream's 200
and must name the h2 stream that carries it (X-H2-Bridge).
Every read is bounded by a timeout ($Conformance::TIMEOUT, default 5 s or
WS_TEST_TIMEOUT).

=head1 METHODS

  Conformance->new(%connect_args)   connect (WSClient->connect args; path
                    defaults to '/echo'); a failed handshake is a problem
  $t->c             the WSClient
  $t->send(@frames, chop => N, delay => S)
                    frames are hashrefs for WSClient::encode_frame or plain
                    byte strings; all are written in one go (or in chops of
                    N bytes with S seconds between them)
  $t->send_sync(@frames)   one write per frame, 10 ms apart ("frame-wise
                    chops")
  $t->expect([kind => data], ..., timeout => S)
                    kind: text binary ping pong; reads until that many new
                    events arrived and compares them exactly
  $t->silence($secs, $what)   nothing at all may arrive within $secs
  $t->close_within($secs)     1 if the server's close frame arrives within
                    $secs (events read meanwhile stay unconsumed)
  $t->client_close(code => 1000, reason => undef, payload => raw,
                   expect => 1000, allow => sub { ... })
                    sends a close (code undef: empty payload) and checks the
                    reply (expect => undef: a close without status code);
                    allow: events for which it returns true may still
                    arrive before the reply (a plugin that sends on its own)
  $t->expect_close($code)    the reply to a close frame sent with send()
  $t->server_close($code, timeout => S)
                    the server must fail/close the connection with $code
  $t->problem($text)          record a deviation
  Conformance->blank          no connection (case option noconnect => 1);
  $t->adopt($other, $prefix)  take over the problems of another object
  utf8_fail_at($bytes)  undef when valid and complete; the index of the
                    first byte that makes the sequence invalid; length when
                    only the end is missing (a truncated code point)
  case($id, $desc, $code, %opt)  register a case (opt: path, connect =>
                    {...}, noconnect => 1, last => 1: runs after all
                    others); ncases(); run_cases()
  Conformance::bridge()  the H2Bridge of a WS_CONFORMANCE_H2 run (undef
                    otherwise); Conformance::connects()  how many cases
                    connected so far

=cut

use strict;
use warnings FATAL => 'all';

use Exporter 'import';
our @EXPORT = qw(case);
our @EXPORT_OK = qw(utf8_fail_at hexdump);

use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes qw(time sleep);
use WSClient;

our $TIMEOUT = $ENV{WS_TEST_TIMEOUT} || 5;
# "at once" for the TCP close after the server's close frame: generous for
# loaded machines, scaled like the timeouts (valgrind)
our $PROMPT = $TIMEOUT > 10 ? $TIMEOUT / 5 : 2;

my %KIND = (1 => 'text', 2 => 'binary', 9 => 'ping', 10 => 'pong');

# ---- UTF-8 (RFC 3629, strict: no overlongs, surrogates, > U+10FFFF) ----

sub utf8_fail_at {
    my @b = unpack 'C*', shift;
    my ($i, $n) = (0, scalar @b);
    while ($i < $n) {
        my $c = $b[$i];
        if ($c < 0x80) { $i++; next }
        my ($need, $lo, $hi);
        if    ($c >= 0xC2 && $c <= 0xDF) { ($need, $lo, $hi) = (1, 0x80, 0xBF) }
        elsif ($c == 0xE0)               { ($need, $lo, $hi) = (2, 0xA0, 0xBF) }
        elsif ($c == 0xED)               { ($need, $lo, $hi) = (2, 0x80, 0x9F) }
        elsif ($c >= 0xE1 && $c <= 0xEF) { ($need, $lo, $hi) = (2, 0x80, 0xBF) }
        elsif ($c == 0xF0)               { ($need, $lo, $hi) = (3, 0x90, 0xBF) }
        elsif ($c >= 0xF1 && $c <= 0xF3) { ($need, $lo, $hi) = (3, 0x80, 0xBF) }
        elsif ($c == 0xF4)               { ($need, $lo, $hi) = (3, 0x80, 0x8F) }
        else { return $i }
        for my $k (1 .. $need) {
            my $j = $i + $k;
            return $n if $j >= $n;
            my ($l, $h) = $k == 1 ? ($lo, $hi) : (0x80, 0xBF);
            return $j if $b[$j] < $l || $b[$j] > $h;
        }
        $i += $need + 1;
    }
    undef;
}

sub hexdump {
    my ($s, $max) = @_;
    $max ||= 24;
    my $h = unpack 'H*', substr $s, 0, $max;
    $h .= '...' if length $s > $max;
    $h;
}

# ---- connection ----------------------------------------------------------

my ($bridge, $bridge_error, $connects);

sub bridge   { $bridge }
sub connects { $connects || 0 }

# "TCP" in the messages below is the stream when the cases go over h2
sub _tcp { $bridge ? 'the stream' : 'TCP' }

sub new {
    my ($class, %a) = @_;
    my $self = bless { problems => [], events => [], seen => 0,
                       close => undef, open => undef, done => 0 }, $class;
    $a{path} = '/echo' unless defined $a{path};
    $a{timeout} ||= $TIMEOUT;
    if ($ENV{WS_CONFORMANCE_H2}) {
        unless ($bridge) {
            $self->problem("no h2 bridge: $bridge_error");
            return $self;
        }
        $a{port} = $bridge->port;
    }
    $connects++;
    my $c = eval { WSClient->connect(%a) };
    unless ($c) {
        $self->problem("connect failed: $@");
        return $self;
    }
    $self->{c} = $c;
    setsockopt($c->sock, IPPROTO_TCP, TCP_NODELAY, 1);
    if ($c->status != 101) {
        $self->problem('handshake: got "' . $c->status_line . '", not 101');
        delete $self->{c};
    } elsif (!$c->accept_ok) {
        $self->problem('handshake: wrong Sec-WebSocket-Accept');
    }
    if ($bridge && $self->{c}) {
        my $via = $c->header('X-H2-Bridge') || '';
        if ($via =~ /^conn=(\d+) stream=(\d+)$/) {
            @$self{qw(h2conn h2stream)} = ($1, $2);
        } else {
            $self->problem('the bridge did not carry the WebSocket over '
                           . $bridge->how);
        }
    }
    $self;
}

# no connection: for cases that make their own (sub-objects' problems are
# merged with adopt())
sub blank {
    bless { problems => [], events => [], seen => 0, close => undef,
            open => undef, done => 1, blank => 1 }, shift;
}

sub adopt {
    my ($self, $other, $prefix) = @_;
    $self->problem(($prefix ? "$prefix: " : '') . $_) for $other->problems;
    $other->{c}->close_socket if $other->{c};
}

sub c { $_[0]{c} }

sub problem {
    my ($self, $p) = @_;
    push @{ $self->{problems} }, $p;
}

sub problems { @{ $_[0]{problems} } }

sub alive { $_[0]{c} ? 1 : 0 }

# ---- sending -------------------------------------------------------------

sub _bytes {
    my $f = shift;
    ref $f ? WSClient::encode_frame(%$f) : $f;
}

sub send {
    my ($self, @args) = @_;
    my %o;
    my @frames;
    while (@args) {
        my $x = shift @args;
        if (!ref $x && @args && ($x eq 'chop' || $x eq 'delay')) {
            $o{$x} = shift @args;
        } else {
            push @frames, $x;
        }
    }
    return 0 unless $self->{c};
    my $bytes = join '', map { _bytes($_) } @frames;
    $self->{c}->send_raw($bytes, chunk => $o{chop}, delay => $o{delay});
}

sub send_sync {
    my ($self, @frames) = @_;
    return 0 unless $self->{c};
    for my $i (0 .. $#frames) {
        $self->{c}->send_raw(_bytes($frames[$i])) or return 0;
        sleep 0.01 if $i < $#frames;
    }
    1;
}

# ---- receiving -----------------------------------------------------------

sub _describe {
    my $e = shift;
    return 'close ' . (defined $e->{code} ? $e->{code} : '(no code)')
        . (length($e->{reason} || '') ? " '$e->{reason}'" : '')
        if $e->{kind} eq 'close';
    sprintf '%s[%d] %s', $e->{kind}, length $e->{data}, hexdump($e->{data});
}

# next complete event (message, ping, pong, close) or undef on timeout/EOF
sub next_event {
    my ($self, $timeout) = @_;
    my $c = $self->{c} or return undef;
    return undef if $self->{close} || $self->{eof};
    my $deadline = time + $timeout;
    while (1) {
        my $left = $deadline - time;
        return undef if $left <= 0;
        my $f = $c->read_frame(timeout => $left);
        unless ($f) {
            if ($c->eof) {
                $self->{eof} = 1;
                $self->{reset} = $c->reset;
            }
            return undef;
        }
        my $op = $f->{opcode};
        $self->problem("server frame (opcode $op) is masked") if $f->{masked};
        $self->problem("server frame (opcode $op) has RSV $f->{rsv}")
            if $f->{rsv};
        if ($op >= 8) {
            $self->problem("server control frame (opcode $op) not final")
                unless $f->{fin};
            $self->problem("server control frame (opcode $op) payload "
                           . "$f->{length} > 125") if $f->{length} > 125;
        }
        if ($op == 8) {
            my $e = { kind => 'close', code => $f->{code},
                      reason => $f->{reason}, length => $f->{length} };
            $self->problem('server close frame with a 1-byte payload')
                if $f->{length} == 1;
            $self->problem('server close reason is not valid UTF-8: '
                           . hexdump($f->{reason}))
                if defined utf8_fail_at($f->{reason});
            $self->{close} = $e;
            return $e;
        }
        if ($op == 9 || $op == 10) {
            my $e = { kind => $KIND{$op}, data => $f->{payload} };
            push @{ $self->{events} }, $e;
            return $e;
        }
        if ($op == 1 || $op == 2) {
            if ($self->{open}) {
                $self->problem('server started a new message inside a '
                               . 'fragmented one');
            }
            $self->{open} = { kind => $KIND{$op}, data => $f->{payload} };
        } elsif ($op == 0) {
            unless ($self->{open}) {
                $self->problem('server sent a continuation frame with no '
                               . 'open message');
                next;
            }
            $self->{open}{data} .= $f->{payload};
        } else {
            $self->problem("server sent reserved opcode $op");
            next;
        }
        if ($f->{fin}) {
            my $e = delete $self->{open};
            $self->problem('server text message is not valid UTF-8')
                if $e->{kind} eq 'text' && defined utf8_fail_at($e->{data});
            push @{ $self->{events} }, $e;
            return $e;
        }
    }
}

sub _diff {
    my ($got, $want) = @_;
    my $i = 0;
    my $n = length $got < length $want ? length $got : length $want;
    # find the first differing byte quickly (xor, then leading zero bytes)
    my $x = substr($got, 0, $n) ^ substr($want, 0, $n);
    $x =~ /^(\0*)/;
    $i = length $1;
    sprintf 'length %d (expected %d), first difference at offset %d: '
          . 'got %s, expected %s', length $got, length $want, $i,
          hexdump(substr($got, $i), 12), hexdump(substr($want, $i), 12);
}

sub expect {
    my ($self, @args) = @_;
    my %o;
    my @exp;
    while (@args) {
        my $x = shift @args;
        if (ref $x) { push @exp, $x } else { $o{$x} = shift @args }
    }
    my $timeout = $o{timeout} || $TIMEOUT;
    my $deadline = time + $timeout;
    my $want = $self->{seen} + @exp;
    while (@{ $self->{events} } < $want) {
        my $left = $deadline - time;
        last if $left <= 0;
        my $e = $self->next_event($left);
        last unless $e;
        last if $e->{kind} eq 'close';
    }
    for my $i (0 .. $#exp) {
        my ($kind, $data) = @{ $exp[$i] };
        my $g = $self->{events}[ $self->{seen} ];
        unless ($g) {
            my $why = $self->{close} ? 'got ' . _describe($self->{close})
                    : $self->{eof} ? 'the server closed ' . _tcp()
                    : "nothing within ${timeout}s";
            $self->problem("expected $kind\[" . length($data) . "] "
                           . hexdump($data) . ": $why");
            return 0;
        }
        $self->{seen}++;
        if ($g->{kind} ne $kind) {
            $self->problem("expected $kind\[" . length($data) . '] '
                           . hexdump($data) . ', got ' . _describe($g));
        } elsif ($g->{data} ne $data) {
            $self->problem("$kind payload differs: " . _diff($g->{data}, $data));
        }
    }
    1;
}

sub silence {
    my ($self, $secs, $what) = @_;
    my $deadline = time + $secs;
    while (1) {
        my $left = $deadline - time;
        last if $left <= 0;
        my $e = $self->next_event($left);
        if ($e) {
            $self->{seen}++ unless $e->{kind} eq 'close';
            $self->problem(($what ? "$what: " : '')
                           . 'expected nothing, got ' . _describe($e));
            return 0;
        }
        last if $self->{eof};
    }
    if ($self->{eof}) {
        $self->problem(($what ? "$what: " : '')
                       . 'the server closed ' . _tcp() . ' unexpectedly');
        return 0;
    }
    1;
}

sub close_within {
    my ($self, $secs) = @_;
    my $deadline = time + $secs;
    until ($self->{close} || $self->{eof}) {
        my $left = $deadline - time;
        last if $left <= 0;
        $self->next_event($left);
    }
    $self->{close} ? 1 : 0;
}

sub _finish {
    my ($self, $want, $timeout, $what, $allow) = @_;
    $timeout ||= $TIMEOUT;
    my $deadline = time + $timeout;
    until ($self->{close} || $self->{eof}) {
        my $left = $deadline - time;
        last if $left <= 0;
        $self->next_event($left);
    }
    my @extra = @{ $self->{events} }[ $self->{seen} .. $#{ $self->{events} } ];
    $self->{seen} = @{ $self->{events} };
    @extra = grep { !$allow->($_) } @extra if $allow;
    $self->problem('unexpected before the close: '
                   . join(', ', map { _describe($_) } @extra)) if @extra;
    $self->problem('unfinished fragmented message from the server')
        if $self->{open};
    my $cl = $self->{close};
    my $ws = defined $want ? $want : '(no code)';
    unless ($cl) {
        $self->problem("expected $what close $ws: "
                       . ($self->{eof} ? ($self->{reset} ? _tcp() . ' reset'
                                          : _tcp() . ' closed without a '
                                            . 'close frame')
                                       : "no close frame within ${timeout}s"));
        return 0;
    }
    my $gc = defined $cl->{code} ? $cl->{code} : '(no code)';
    $self->problem("$what close: got code $gc, expected $ws")
        if $gc ne $ws;
    # nothing may follow the close frame, and the server closes TCP (over
    # h2: ends the stream with END_STREAM, which the bridge relays as FIN)
    my $c = $self->{c};
    my $t0 = time;
    my $eof = $c->wait_eof(timeout => $timeout);
    my $took = time - $t0;
    my $trail = $c->{trailing_bytes};
    $self->problem('bytes after the close frame: ' . hexdump($trail))
        if length $trail;
    my ($close, $closed, $rst) = $bridge
        ? ('end the stream (END_STREAM)', 'ended the stream',
           'reset the stream (RST_STREAM)')
        : ('close TCP', 'closed TCP', 'reset the connection (RST)');
    if (!$eof) {
        $self->problem("server did not $close within ${timeout}s after "
                       . 'its close frame');
    } elsif ($c->reset) {
        $self->problem("server $rst instead of an orderly close after "
                       . 'its close frame');
    } elsif ($took > $PROMPT) {
        # SPEC 4: after a close reply, and after failing the connection,
        # the server closes TCP at once (it does not wait for anything)
        $self->problem(sprintf "server $closed only %.1fs after its "
                       . 'close frame (expected at once)', $took);
    }
    $self->{done} = 1;
    1;
}

sub client_close {
    my ($self, %o) = @_;
    return 0 unless $self->{c};
    my $code = exists $o{code} ? $o{code} : 1000;
    my $want = exists $o{expect} ? $o{expect} : $code;
    if (defined $o{payload}) {
        $self->send({ opcode => 8, payload => $o{payload} });
    } else {
        my $p = defined $code ? pack('n', $code) : '';
        $p .= $o{reason} if defined $code && defined $o{reason};
        $self->send({ opcode => 8, payload => $p });
    }
    $self->_finish($want, $o{timeout}, 'reply:', $o{allow});
}

# the server's answer to a close we already sent with send()
sub expect_close {
    my ($self, $code, %o) = @_;
    return 0 unless $self->{c};
    $self->_finish($code, $o{timeout}, 'reply:');
}

sub server_close {
    my ($self, $code, %o) = @_;
    return 0 unless $self->{c};
    $self->_finish($code, $o{timeout}, 'server');
}

# ---- case registry ---------------------------------------------------------

my @cases;

sub case {
    my ($id, $desc, $code, %opt) = @_;
    push @cases, { id => $id, desc => $desc, code => $code, opt => \%opt };
}

sub ncases { scalar @cases }

sub run_cases {
    my $ok = main->can('ok') or die "ok() not imported into main\n";
    if (my $how = $ENV{WS_CONFORMANCE_H2}) {
        require H2Bridge;
        $bridge = eval { H2Bridge->start($how) };
        $bridge_error = $@ || 'not started';
        chomp $bridge_error;
    }
    my $diag = main->can('diag') || sub { print STDERR map { "# $_\n" } @_ };
    # a server that hangs makes every case wait for its timeouts: stop
    # trying after a budget so the suite stays bounded (scaled like the
    # timeouts, e.g. under valgrind)
    my $scale = $TIMEOUT > 5 ? $TIMEOUT / 5 : 1;
    my $budget = ($ENV{WS_CONFORMANCE_BUDGET} || 300) * $scale;
    my $start = time;
    for my $k ((grep { !$_->{opt}{last} } @cases),
               (grep { $_->{opt}{last} } @cases)) {
        if (time - $start > $budget) {
            $ok->(0, "$k->{id} $k->{desc} (not run: time budget of "
                     . "${budget}s exhausted)");
            next;
        }
        my %args = (path => $k->{opt}{path}, %{ $k->{opt}{connect} || {} });
        # WS_CONFORMANCE_SSL=1: every case over TLS (vhost mod_ssl)
        $args{ssl} = 1 if $ENV{WS_CONFORMANCE_SSL};
        my $t = $k->{opt}{noconnect} ? Conformance->blank
                                     : Conformance->new(%args);
        my $t0 = time;
        if ($t->alive || $t->{blank}) {
            my $r = eval { $k->{code}->($t); 1 };
            $t->problem("case died: $@") unless $r;
            $t->problem('case ended without checking the close handshake')
                unless $t->{done} || $t->problems;
        }
        my @p = $t->problems;
        my $name = "$k->{id} $k->{desc}";
        $ok->(!@p, $name);
        $diag->("$k->{id}: $_") for @p;
        $t->{c}->close_socket if $t->{c};
        if ($ENV{WS_CONFORMANCE_TIMES}) {
            printf "# %s took %.2fs\n", $k->{id}, time - $t0;
        }
    }
    if ($bridge) {
        $bridge->stop;
        undef $bridge;
    }
    1;
}

1;
