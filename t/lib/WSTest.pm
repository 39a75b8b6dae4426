package WSTest;
# Licensed under the Apache License, Version 2.0 (see LICENSE).

=head1 NAME

WSTest - small helpers for the .t files (error_log, private httpd -t runs)

=head1 FUNCTIONS

  log_mark()                      current size of t/logs/error_log
  log_since($mark)                text appended since the mark
  wait_log($mark, qr/re/, $secs)  polls until the text since $mark matches
                                  (returns that text, or undef on timeout)
  count_log($mark, qr/re/)        number of matching lines since the mark
  httpd_t(%a) -> ($exit, $output)
      runs the test httpd binary with "-t" on a small generated config:
        body     => config text for the end of the file (Locations ...)
        root     => ServerRoot (default: a fresh temp dir)
        cwd      => working directory for the run (default '/')
        modules  => extra LoadModule names from LIBEXECDIR
        mpm      => the MPM (default event)
      LoadModule lines for the MPM, authz_core and our module come from
      the Apache::Test vars (ws_module_so, ws_libexecdir); output is
      stdout+stderr together.
  httpd_start_stop(%a) -> ($error, $error_log)
      starts a private httpd on the same kind of config (a free loopback
      port), waits until it has started ("resuming normal operations" in
      its error_log), stops it and returns its error_log; $error is ''
      or says what went wrong.  Arguments as httpd_t (without cwd).
  tempdir()                       a temp dir removed at exit
  free_port()                     a TCP port free on 127.0.0.1 (dies if
                                  none)
  read_text($file)                the file's content ('' if unreadable)
  bound($got, $op, $limit)        for t_cmp on a numeric bound ($op one of
                                  < <= > >=): "$op $limit" when
                                  "$got $op $limit" holds, else what was
                                  measured ("none" for undef), so that
                                    ok t_cmp(bound($dt, '<', 2), '< 2', 'x')
                                  fails printing the value received
  vhost_port($vhost, $https)      the port of a <VirtualHost> of the test
                                  config (Apache::Test's module name for
                                  it); $https for its TLS scheme

  case($n, $name, sub { ... })    registers a group of exactly $n asserts
                                  (ok/t_cmp/skip calls); a group that dies
                                  or runs fewer gets failing asserts for
                                  the rest (with the error as diagnostic),
                                  so one broken group never breaks the plan
  ncases()                        sum of the registered $n (for plan)
  run_cases()                     runs the registered groups in order

=cut

use strict;
use warnings FATAL => 'all';

use Exporter 'import';
our @EXPORT_OK = qw(log_mark log_since wait_log count_log httpd_t
                    httpd_start_stop tempdir free_port read_text vhost_port
                    bound case ncases run_cases);

use File::Temp ();
use IO::Socket::IP ();
use Time::HiRes qw(sleep time);
use Apache::Test ();
use Apache::TestRequest ();

sub error_log { Apache::Test::vars()->{t_logs} . '/error_log' }

sub log_mark { -s error_log() || 0 }

sub log_since {
    my $mark = shift;
    open my $fh, '<', error_log() or return '';
    binmode $fh;
    seek $fh, $mark, 0;
    local $/;
    my $s = <$fh>;
    defined $s ? $s : '';
}

sub wait_log {
    my ($mark, $re, $secs) = @_;
    my $deadline = time + ($secs || 5);
    while (1) {
        my $s = log_since($mark);
        return $s if $s =~ $re;
        return undef if time > $deadline;
        sleep 0.1;
    }
}

sub count_log {
    my ($mark, $re) = @_;
    scalar grep { $_ =~ $re } split /\n/, log_since($mark);
}

sub vhost_port {
    my ($vhost, $https) = @_;
    no warnings 'once';
    local $Apache::TestRequest::Module = $vhost;
    local $Apache::TestRequest::Scheme = 'https' if $https;
    (Apache::TestRequest::hostport() =~ /:(\d+)$/)[0];
}

my %holds = (
    '<'  => sub { $_[0] < $_[1] },
    '<=' => sub { $_[0] <= $_[1] },
    '>'  => sub { $_[0] > $_[1] },
    '>=' => sub { $_[0] >= $_[1] },
);

sub bound {
    my ($got, $op, $limit) = @_;
    my $cmp = $holds{$op} or die "bound: unknown operator '$op'\n";
    return 'none' unless defined $got;
    $cmp->($got, $limit) ? "$op $limit" : "$got";
}

my @tmp;
sub tempdir {
    my $d = File::Temp->newdir('ws-test-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    push @tmp, $d;
    chmod 0755, "$d";
    "$d";
}

# writes the config of httpd_t / httpd_start_stop; returns its path
sub httpd_conf {
    my ($root, $listen, %a) = @_;
    my $vars = Apache::Test::vars();
    my $lib  = $vars->{ws_libexecdir} || '/usr/lib/apache2/modules';
    my $conf = "$root/httpd-t.conf";
    my $mpm  = $a{mpm} || 'event';
    my @mods = ("mpm_$mpm", 'authz_core', @{ $a{modules} || [] });
    # as root, httpd's children must not run as root (nor fail to)
    my $user = $> == 0 ? "User nobody\nGroup nogroup\n" : '';
    open my $fh, '>', $conf or die "$conf: $!";
    print $fh <<"CONF";
ServerRoot "$root"
ServerName localhost
Listen $listen
PidFile "$root/httpd.pid"
ErrorLog "$root/error_log"
DefaultRunTimeDir "$root"
LogLevel warn
DocumentRoot "$root"
$user
CONF
    print $fh "LoadModule ${_}_module \"$lib/mod_$_.so\"\n" for @mods;
    print $fh "LoadModule websocket_module \"$vars->{ws_module_so}\"\n";
    print $fh $a{body} || '';
    close $fh;
    $conf;
}

sub httpd_t {
    my %a = @_;
    my $root = $a{root} || tempdir();
    my $conf = httpd_conf($root, '127.0.0.1:1', %a);
    my $httpd = Apache::Test::vars()->{httpd};
    my $cwd = $a{cwd} || '/';
    my $cmd = "cd '$cwd' && '$httpd' -t -f '$conf' 2>&1";
    my $out = `$cmd`;
    my $exit = $? == -1 ? -1 : $? >> 8;
    ($exit, defined $out ? $out : '');
}

sub free_port {
    my $s = IO::Socket::IP->new(LocalHost => '127.0.0.1', LocalPort => 0,
                                Listen => 1, ReuseAddr => 1)
        or die "no free port: $@\n";
    my $port = $s->sockport;
    close $s;
    $port;
}

sub read_text {
    my $f = shift;
    open my $fh, '<', $f or return '';
    local $/;
    my $s = <$fh>;
    defined $s ? $s : '';
}

sub httpd_start_stop {
    my %a = @_;
    my $root = $a{root} || tempdir();
    my $port = eval { free_port() } or return ($@, '');
    my $conf = httpd_conf($root, "127.0.0.1:$port", %a);
    my $httpd = Apache::Test::vars()->{httpd};
    my $log = "$root/error_log";
    my $out = `'$httpd' -f '$conf' -k start 2>&1`;
    return ("httpd -k start failed: $out", read_text($log)) if $?;
    my $timeout = $ENV{WS_TEST_TIMEOUT} || 10;
    my $deadline = time + $timeout;
    my $pid;
    while (time < $deadline) {
        ($pid) = read_text("$root/httpd.pid") =~ /(\d+)/;
        last if $pid && read_text($log) =~ /resuming normal operations/;
        sleep 0.1;
    }
    return ('httpd did not come up', read_text($log)) unless $pid;
    kill 'TERM', $pid;
    $deadline = time + $timeout;
    sleep 0.1 while kill(0, $pid) && -e "$root/httpd.pid" && time < $deadline;
    my $err = -e "$root/httpd.pid" ? "httpd $pid did not stop" : '';
    kill 'KILL', $pid if $err;
    ($err, read_text($log));
}

my @cases;

sub case { push @cases, [@_] }

sub ncases {
    my $n = 0;
    $n += $_->[0] for @cases;
    $n;
}

sub run_cases {
    for my $c (@cases) {
        my ($n, $name, $code) = @$c;
        my $first = $Test::ntest;
        my $ok = eval { $code->(); 1 };
        my $err = $ok ? '' : $@;
        my $ran = $Test::ntest - $first;
        if ($ran > $n) {
            print "# case '$name' ran $ran asserts, registered $n\n";
        }
        for ($ran + 1 .. $n) {
            print "# case '$name' died: $err" if $err;
            Test::ok(0, 1, "$name (not reached)");
        }
    }
}

1;
