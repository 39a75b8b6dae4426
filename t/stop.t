# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# graceful-stop: every open WebSocket gets a close frame 1001 (going away)
# at once, on_disconnect runs, and httpd exits -- also with
# GracefulShutdownTimeout 0 (wait for ever), so a WebSocket that stayed
# open would hold the server up for good.  The test server cannot be
# stopped in the middle of the suite: each case starts a private httpd
# (same httpd binary and wrapper, same MPM as the test server) with the
# echo plugin, once per WebSocketDriver.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::IP;
use Time::HiRes qw(time sleep);
use Apache::Test qw(plan ok need_module);
use Apache::TestUtil qw(t_cmp);
use WSClient;
use WSTest qw(case ncases run_cases tempdir free_port read_text);
use WSMem qw(slow_factor);

my $F = slow_factor();
my $vars = Apache::Test::vars();
my $mpm = Apache::Test::config()->{server}{mpm} || 'event';
my $lib = $vars->{ws_libexecdir} || '/usr/lib/apache2/modules';

# whether $pid runs (a daemon's exit leaves a zombie until whoever
# adopted it reaps it: that counts as exited)
sub alive {
    my $pid = shift;
    return 0 unless kill 0, $pid;
    my ($state) = read_text("/proc/$pid/stat") =~ /^\d+ \(.*\) (\S)/s;
    !defined $state || $state ne 'Z';
}

# starts httpd with $driver on /echo; returns (root, port, parent pid)
sub start_httpd {
    my $driver = shift;
    my $root = tempdir();
    my $port = free_port();
    my $user = $> == 0 ? "User nobody\nGroup nogroup\n" : '';
    open my $fh, '>', "$root/httpd.conf" or die "$root/httpd.conf: $!";
    print $fh <<"CONF";
ServerRoot "$root"
ServerName 127.0.0.1
Listen 127.0.0.1:$port
PidFile "$root/httpd.pid"
ErrorLog "$root/error_log"
DefaultRunTimeDir "$root"
LogLevel info websocket:debug
GracefulShutdownTimeout 0
${user}LoadModule mpm_${mpm}_module "$lib/mod_mpm_$mpm.so"
LoadModule authz_core_module "$lib/mod_authz_core.so"
LoadModule websocket_module "$vars->{ws_module_so}"
<Location /echo>
    SetHandler websocket-handler
    WebSocketHandler "$vars->{ws_echo_so}" echo_init
    WebSocketDriver $driver
</Location>
CONF
    close $fh;
    system($vars->{httpd}, '-f', "$root/httpd.conf", '-k', 'start') == 0
        or die "httpd did not start: " . read_text("$root/error_log");
    my $deadline = time + 10 * $F;
    my $pid;
    while (time < $deadline) {
        ($pid) = read_text("$root/httpd.pid") =~ /(\d+)/;
        last if $pid && IO::Socket::IP->new(PeerHost => '127.0.0.1',
                                            PeerPort => $port);
        sleep 0.1;
    }
    die "httpd did not come up: " . read_text("$root/error_log")
        unless $pid;
    ($root, $port, $pid);
}

for my $driver (qw(Blocking Auto)) {
    case(5, "graceful-stop with GracefulShutdownTimeout 0 ($driver driver)",
         sub {
        my ($root, $port, $pid) = start_httpd($driver);
        my @c = map { WSClient->connect(path => '/echo', port => $port) }
                1 .. 3;
        $_->send_text('before') for @c;
        my @echo = map { my $f = $_->read_frame(timeout => 5 * $F);
                         $f ? $f->{payload} : 'none' } @c;
        ok t_cmp("@echo", 'before before before', 'three WebSockets echo');
        my $t0 = time;
        kill 'WINCH', $pid;                   # apachectl -k graceful-stop
        my @codes = map {
            my $r = $_->read_until_close(timeout => 10 * $F, reply => 1);
            ($r->{code} // 'none') . ($r->{eof} ? '' : ' (no EOF)')
        } @c;
        my $closed = time - $t0;
        ok t_cmp("@codes", '1001 1001 1001',
                 'every WebSocket got 1001 and was closed');
        ok $closed < 3 * $F
            or print "# the close frames took $closed s\n";
        my $deadline = time + 15 * $F;
        sleep 0.1 while alive($pid) && time < $deadline;
        my $gone = !alive($pid);
        printf "# httpd %s after %.1f s\n", $gone ? 'exited' : 'still up',
            time - $t0;
        ok t_cmp($gone ? 'exited' : 'still running', 'exited',
                 'httpd exited although GracefulShutdownTimeout is 0');
        kill 'KILL', $pid unless $gone;       # never leave it behind
        my $log = read_text("$root/error_log");
        my $n = () = $log =~ /WS00109: server stopping: closing with 1001/g;
        ok t_cmp($n, 3, 'each of the three sessions logged its 1001');
    });
}

plan tests => ncases(), need_module 'mod_websocket.c';
run_cases();
