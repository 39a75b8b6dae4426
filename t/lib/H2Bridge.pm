package H2Bridge;
# Licensed under the Apache License, Version 2.0 (see LICENSE).

=head1 NAME

H2Bridge - runs t/h2/h2bridge.py for a .t file: HTTP/1.1 WebSocket
clients on a local port, carried to httpd over HTTP/2 (RFC 8441)

=head1 SYNOPSIS

    my $b = H2Bridge->start('h2');      # or 'h2c'; dies with the reason
    my $c = WSClient->connect(port => $b->port, path => '/echo');
    my $s = $b->stats;                  # hashref (see h2bridge.py)
    $b->stop;                           # also when the object goes away

=head1 DESCRIPTION

'h2' goes to the mod_ssl vhost over TLS (ALPN h2), 'h2c' to the h2c vhost
in cleartext with prior knowledge (t/conf/stack.conf.in).  The bridge is
this process's child: its pid is kept and only that pid is signalled; it
also exits by itself once this process is gone.  Its log (one line per
stream event) goes to t/logs/h2bridge-HOW.log.  Every wait is bounded.

H2Bridge::available($how) is '' when the bridge can run, otherwise why not
(mod_http2 or mod_ssl not loaded, python3-h2 missing).

=cut

use strict;
use warnings FATAL => 'all';

use FindBin;
use IO::Select;
use IO::Socket::IP;
use JSON::PP ();
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);
use Apache::Test ();
use WSTest qw(vhost_port);

our $PYTHON = '/usr/bin/python3';      # Debian's, with python3-h2
my $SCRIPT = "$FindBin::Bin/h2/h2bridge.py";

sub available {
    my $how = shift;
    return 'mod_http2 not loaded'
        unless Apache::Test::have_module('mod_http2.c');
    # mod_http2 says so at start-up (AH10034): no HTTP/2 on prefork
    return 'mod_http2 is inactive on the prefork MPM'
        if (Apache::Test::config()->{server}{mpm} // '') eq 'prefork';
    return 'mod_ssl not loaded'
        if $how eq 'h2' && !Apache::Test::have_module('mod_ssl.c');
    return "$PYTHON with python3-h2 missing"
        unless -x $PYTHON && system($PYTHON, '-c', 'import h2') == 0;
    '';
}

sub start {
    my ($class, $how, %o) = @_;
    die "H2Bridge: how is h2 or h2c, not '$how'\n" unless $how =~ /^h2c?$/;
    my $why = available($how);
    die "H2Bridge: $why\n" if $why;
    my $vars = Apache::Test::vars();
    my $timeout = $o{timeout} || $ENV{WS_TEST_TIMEOUT} || 10;
    my @cmd = ($PYTHON, $SCRIPT, '--timeout', $timeout, '--parent', $$,
               '--log', "$vars->{t_logs}/h2bridge-$how.log");
    push @cmd, $how eq 'h2'
        ? ('--tls', '--ca', "$vars->{sslca}/$vars->{sslcaorg}/certs/ca.crt",
           '--port', vhost_port('mod_ssl', 1))
        : ('--port', vhost_port('h2c'));
    my $pid = open my $fh, '-|', @cmd
        or die "H2Bridge: cannot run $PYTHON: $!\n";
    my $self = bless { pid => $pid, fh => $fh, how => $how }, $class;
    # the bridge prints "port P" once it listens
    my $sel = IO::Select->new($fh);
    my $line = '';
    my $deadline = time + $timeout;
    while ($line !~ /\n/ && (my $left = $deadline - time) > 0) {
        last unless $sel->can_read($left);
        last unless sysread $fh, $line, 256, length $line;
    }
    unless ($line =~ /^port (\d+)$/m) {
        $self->stop;
        die "H2Bridge: no port from h2bridge.py within ${timeout}s: "
          . ($line eq '' ? '(nothing)' : $line) . "\n";
    }
    $self->{port} = $1;
    $self;
}

sub port { $_[0]{port} }
sub how  { $_[0]{how} }

# the bridge's JSON summary (connections, stream ends); undef if it does
# not answer
sub stats {
    my $self = shift;
    my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1',
                                PeerPort => $self->{port}, Timeout => 5)
        or return undef;
    print $s "GET /.h2bridge/stats HTTP/1.1\r\nHost: bridge\r\n\r\n";
    my $sel = IO::Select->new($s);
    my $buf = '';
    my $deadline = time + 5;
    while ((my $left = $deadline - time) > 0) {
        last unless $sel->can_read($left);
        last unless sysread $s, $buf, 65536, length $buf;
    }
    close $s;
    my ($body) = $buf =~ /\r\n\r\n(.*)\z/s or return undef;
    eval { JSON::PP->new->decode($body) };
}

sub stop {
    my $self = shift;
    my $pid = delete $self->{pid} or return;
    # waitpid and the pipe's close set $? (and $!): the .t's exit status
    # must not be the bridge's
    local ($?, $!);
    kill 'TERM', $pid;
    my $deadline = time + 5;
    while (waitpid($pid, WNOHANG) == 0) {
        if (time > $deadline) {
            kill 'KILL', $pid;
            waitpid $pid, 0;
            last;
        }
        sleep 0.05;
    }
    close delete $self->{fh} if $self->{fh};
}

sub DESTROY { $_[0]->stop }

1;
