package WSMem;
# Licensed under the Apache License, Version 2.0 (see LICENSE).

=head1 NAME

WSMem - memory of the test server's httpd children, from /proc (Linux)

=head1 FUNCTIONS

  httpd_pid()            the parent's pid (t/logs/httpd.pid), or undef
  children()             pids whose parent is httpd_pid()
  rss_kb($pid)           RssAnon of the process in kB (undef if gone)
  snapshot()             { pid => RssAnon kB } over children()
  growth_kb($before, $after)
      growth between two snapshots: for a child in both, after - before;
      a child that appeared meanwhile counts with its RSS minus that of
      the smallest child of $before (what a fresh child costs is not
      growth); children that went away are ignored
  child_of($sock)        pid of the child holding the server side of this
                         client socket (TCP over IPv4 or IPv6), or undef
  describe($snap)        "pid=kB ..." for diagnostics
  mem_skip()             '' when RSS figures mean something, else the reason
                         (httpd under ASan keeps freed memory in its
                         quarantine; under valgrind it is one process -X)
  slow_factor()          how much slower the server is than a plain build
                         (4 under valgrind, 2 under ASan, else 1): for
                         timing bounds and workloads

RssAnon is the resident anonymous memory (heap, stacks, private
mappings): what a leak makes grow.  VmRSS adds file-backed pages (the code
of httpd, APR, OpenSSL and the plugins, faulted in the first time a child
runs a path) and shared memory pages (the scoreboard, the channel region)
a child touches: neither is memory the child holds for a connection.

Reading another user's /proc/PID/fd needs root or the same uid: the test
suite runs as root (CI), or as the user httpd's children run as.

=cut

use strict;
use warnings FATAL => 'all';

use Exporter 'import';
our @EXPORT_OK = qw(httpd_pid children rss_kb snapshot growth_kb child_of
                    describe mem_skip slow_factor);

use Apache::Test ();

# set by meson.build / t/tools/run-apache-test for the sanitizer and
# valgrind setups
sub mem_skip {
    return 'httpd runs under valgrind' if $ENV{WS_HTTPD_VALGRIND};
    return 'httpd runs under ASan (quarantine)' if $ENV{WS_HTTPD_PRELOAD};
    '';
}

sub slow_factor {
    return 4 if $ENV{WS_HTTPD_VALGRIND};
    return 3 if $ENV{WS_HTTPD_PRELOAD};
    1;
}

sub httpd_pid {
    my $f = Apache::Test::vars()->{t_logs} . '/httpd.pid';
    open my $fh, '<', $f or return undef;
    my $pid = <$fh>;
    close $fh;
    return undef unless defined $pid && $pid =~ /^(\d+)/;
    $1;
}

sub ppid_of {
    my $pid = shift;
    open my $fh, '<', "/proc/$pid/stat" or return undef;
    my $s = <$fh>;
    close $fh;
    return undef unless defined $s;
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses
    $s =~ /\)\s+\S+\s+(\d+)/ ? $1 : undef;
}

sub children {
    my $parent = shift || httpd_pid() or return ();
    opendir my $dh, '/proc' or return ();
    my @kids;
    for my $pid (grep { /^\d+$/ } readdir $dh) {
        my $pp = ppid_of($pid);
        push @kids, $pid if defined $pp && $pp == $parent;
    }
    closedir $dh;
    sort { $a <=> $b } @kids;
}

sub rss_kb {
    my $pid = shift;
    open my $fh, '<', "/proc/$pid/status" or return undef;
    while (<$fh>) {
        return $1 if /^RssAnon:\s+(\d+)\s+kB/;
    }
    undef;
}

sub snapshot {
    my %s;
    for my $pid (children()) {
        my $r = rss_kb($pid);
        $s{$pid} = $r if defined $r;
    }
    \%s;
}

sub growth_kb {
    my ($before, $after) = @_;
    my @b = values %$before;
    my $fresh = @b ? (sort { $a <=> $b } @b)[0] : 0;
    my $g = 0;
    for my $pid (keys %$after) {
        $g += exists $before->{$pid} ? $after->{$pid} - $before->{$pid}
                                     : $after->{$pid} - $fresh;
    }
    $g;
}

sub describe {
    my $s = shift;
    join ' ', map { "$_=$s->{$_}kB" } sort { $a <=> $b } keys %$s;
}

# inode of the server-side socket: local port = the client's peer port,
# remote port = the client's local port
sub server_inode {
    my ($sport, $cport) = @_;
    for my $table ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $fh, '<', $table or next;
        <$fh>;
        while (my $l = <$fh>) {
            my @f = split ' ', $l;
            next unless @f > 9;
            my ($lp) = $f[1] =~ /:([0-9A-F]+)$/;
            my ($rp) = $f[2] =~ /:([0-9A-F]+)$/;
            next unless defined $lp && defined $rp;
            return $f[9] if hex($lp) == $sport && hex($rp) == $cport
                            && $f[9];
        }
    }
    undef;
}

sub child_of {
    my $sock = shift;
    my ($cport, $sport) = ($sock->sockport, $sock->peerport);
    return undef unless $cport && $sport;
    my $inode = server_inode($sport, $cport) or return undef;
    my $want = "socket:[$inode]";
    for my $pid (children()) {
        opendir my $dh, "/proc/$pid/fd" or next;
        for my $fd (readdir $dh) {
            my $l = readlink "/proc/$pid/fd/$fd";
            return $pid if defined $l && $l eq $want;
        }
    }
    undef;
}

1;
