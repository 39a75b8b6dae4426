# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# Interoperability with independent client libraries from Debian, against
# the echo plugin at /echo: python3-websockets (run with /usr/bin/python3:
# a python3 earlier in PATH may lack the package) and node-ws
# (NODE_PATH=/usr/share/nodejs).  The clients (t/interop/client.py,
# client.js) send a text, a binary and a 1 MiB binary message, a ping, and
# close with 1000; each prints one JSON object with what its library
# reported, asserted here.  A missing library skips its tests.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore plan need_module ok is diag skip);
use Apache::TestRequest ();
use JSON::PP ();
use POSIX ();

my $PY   = '/usr/bin/python3';
my $NODE = -x '/usr/bin/node' ? '/usr/bin/node' : undef;
my $NODE_PATH = '/usr/share/nodejs';
my $TO = $ENV{WS_TEST_TIMEOUT} || 10;

my @checks = (
    [connected => sub { $_[0]{connected} }, 'handshake accepted'],
    [text => sub {
         my $r = shift;
         ($r->{text_type} || '') eq 'str' || defined $r->{text_binary}
             && !$r->{text_binary} or return 0;
         defined $r->{text} && $r->{text} eq $r->{text_sent};
     }, 'text message echoed as text, same characters'],
    [binary => sub {
         my $r = shift;
         ($r->{binary_type} || '') eq 'bytes' || $r->{binary_binary}
             or return 0;
         $r->{binary_equal} && $r->{binary_len} == 1024;
     }, 'binary message (1024 bytes) echoed as binary, same bytes'],
    [big => sub {
         my $r = shift;
         ($r->{big_type} || '') eq 'bytes' || $r->{big_binary} or return 0;
         $r->{big_sha_equal} && $r->{big_len} == 1048576;
     }, '1 MiB binary message echoed, same bytes'],
    [pong => sub { $_[0]{pong} }, 'ping answered by a pong with its payload'],
    [close => sub { defined $_[0]{close_code} && $_[0]{close_code} == 1000 },
     'clean close: the library reports code 1000 from the server'],
    [closed => sub { $_[0]{closed} && !defined $_[0]{error} },
     'connection closed without any error reported'],
);

my ($hostport) = Apache::TestRequest::hostport();
my ($port) = $hostport =~ /:(\d+)$/;
my $url = "ws://127.0.0.1:$port/echo";

# run a client with a hard time limit; returns its decoded JSON or an
# error hash
sub run_client {
    my ($env, @cmd) = @_;
    pipe my $r, my $w or return { error => "pipe: $!" };
    my $pid = fork;
    return { error => "fork: $!" } unless defined $pid;
    if ($pid == 0) {
        close $r;
        open STDOUT, '>&', $w or POSIX::_exit(127);
        open STDERR, '>&', $w or POSIX::_exit(127);
        $ENV{$_} = $env->{$_} for keys %$env;
        exec @cmd or POSIX::_exit(127);
    }
    close $w;
    my $out = '';
    my $limit = $TO * 6;
    eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm $limit;
        local $/;
        $out = <$r>;
        alarm 0;
    };
    alarm 0;
    if ($@) {
        kill 'KILL', $pid;
        waitpid $pid, 0;
        return { error => "client did not finish within ${limit}s",
                 output => $out };
    }
    waitpid $pid, 0;
    $out = '' unless defined $out;
    my ($line) = grep { /^\{/ } split /\n/, $out;
    return { error => "no JSON from the client (exit " . ($? >> 8) . ")",
             output => $out } unless $line;
    my $j = eval { JSON::PP->new->decode($line) };
    $j || { error => "bad JSON: $@", output => $out };
}

my $have_py = -x $PY
    && system($PY, '-c', 'import websockets') == 0 ? 1 : 0;
my $have_node = $NODE
    && system("NODE_PATH=$NODE_PATH '$NODE' -e 'require(\"ws\")' "
              . '>/dev/null 2>&1') == 0 ? 1 : 0;

plan tests => 2 * @checks, need_module 'mod_websocket.c';

for my $client (['python3-websockets', $have_py,
                 [{}, $PY, "$FindBin::Bin/interop/client.py", $url]],
                ['node-ws', $have_node,
                 [{ NODE_PATH => $NODE_PATH }, $NODE,
                  "$FindBin::Bin/interop/client.js", $url]]) {
    my ($name, $have, $cmd) = @$client;
    SKIP: {
        skip "$name is not installed", scalar @checks unless $have;
        my $res = run_client(@$cmd);
        diag("$name: $res->{error}") if defined $res->{error};
        diag("$name output: $res->{output}") if defined $res->{output};
        my $failed = 0;
        for my $c (@checks) {
            my ($key, $test, $desc) = @$c;
            my $ok = eval { $test->($res) } ? 1 : 0;
            ok($ok, "$name: $desc");
            $failed++ unless $ok;
        }
        diag("$name reported: " . JSON::PP->new->canonical->encode($res))
            if $failed;
    }
}
