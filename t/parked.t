# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# httpd's Timeout on a parked WebSocket (asynchronous driver, event MPM):
# the MPM waits at most Timeout for a parked connection to become
# readable, then closes it without calling the module.  The connection
# pool's cleanup must still end the session: "WS00402" at debug level
# and the plugin's on_disconnect exactly once; the client sees its TCP
# connection closed; the server goes on serving.  Two connections stay
# silent past Timeout 2: one with pings off, one whose first ping would
# come only after 5 s.  Virtual host ws_parked in t/conf/parked.conf.in;
# on_disconnect is observed through t/plugins/ws_test_plugin.c's
# "on_disconnect tag=TAG" line in the error_log.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Time::HiRes qw(time sleep);
use Apache::Test qw(plan ok need need_module need_min_apache_version);
use Apache::TestUtil qw(t_cmp);
use WSClient;
use WSTest qw(log_mark log_since wait_log count_log bound);
use WSMem qw(slow_factor);

my $defines = Apache::Test::vars()->{defines} || '';
plan tests => 10,
    need need_module('mod_websocket.c', 'mpm_event.c'),
         need_min_apache_version('2.4.63'),
         { 'the asynchronous driver only: WS_TEST_DRIVER=blocking runs '
           . 'every location on the blocking driver' =>
               $defines !~ /\bWS_DRIVER_BLOCKING\b/ };

my $F = slow_factor();
my $TIMEOUT = 2;    # the vhost's Timeout
my $mark = log_mark();

sub disc_re {
    my $tag = shift;
    qr/^ws_test_plugin: on_disconnect tag=\Q$tag\E$/m;
}

# one silent connection per location: a message echoed first (so the
# connection has been through the driver once and is parked), then
# nothing from either side
my @c;
for my $path ('/parked-silent', '/parked-late-ping') {
    my $tag = sprintf 'parked-%d-%s', $$, substr $path, 8;
    my $c = WSClient->connect(vhost => 'ws_parked', path => $path,
                              headers => ['X-Tag' => $tag]);
    $c->send_text('before the silence');
    my $f = $c->read_frame(timeout => 5 * $F);
    push @c, { path => $path, tag => $tag, c => $c, t0 => time,
               status => $c->status,
               echo => $f ? $f->{payload} : 'none',
               port => $c->sock->sockport };
}
for my $x (@c) {
    ok t_cmp("$x->{status} $x->{echo}", '101 before the silence',
             "$x->{path}: 101, then the echo");
}

# the MPM closes both after Timeout; the client reads until EOF
for my $x (@c) {
    my $c = $x->{c};
    my $eof = $c->wait_eof(timeout => $TIMEOUT + 5 * $F);
    $x->{secs} = time - $x->{t0};
    $x->{eof} = $eof;
    $x->{bytes} = length($c->{trailing_bytes}) + length($c->pending);
    # as a client does on EOF: the MPM's lingering close then ends at once
    $c->close_socket;
    printf "# %s: %s after %.2f s, %d bytes before it\n", $x->{path},
        $eof ? ($c->reset ? 'reset' : 'closed') : 'still open', $x->{secs},
        $x->{bytes};
}
my $earliest = $TIMEOUT - 0.5;
my $latest = $TIMEOUT + 3 * $F;
for my $x (@c) {
    ok t_cmp(($x->{eof} ? 'closed' : 'open') . ', '
             . join(', ', bound($x->{secs}, '>', $earliest),
                    bound($x->{secs}, '<', $latest)),
             "closed, > $earliest, < $latest",
             "$x->{path}: the client sees TCP closed, after Timeout "
             . '(seconds of silence)');
}

# on_disconnect once each, and WS00402 for each connection (the
# client's port is in the line)
my $t1 = time;
for my $x (@c) {
    wait_log($mark, disc_re($x->{tag}), 5 * $F);
}
printf "# on_disconnect lines after %.2f s\n", time - $t1;
sleep 1;    # no second on_disconnect may follow
my $log = log_since($mark);
for my $x (@c) {
    ok t_cmp(count_log($mark, disc_re($x->{tag})), 1,
             "$x->{path}: on_disconnect exactly once");
}
for my $x (@c) {
    my @lines = grep { /WS00402/ && /:\Q$x->{port}\E\b/ } split /\n/, $log;
    print "# $_\n" for @lines;
    ok t_cmp(scalar @lines, 1,
             "$x->{path}: one WS00402 line for the connection");
}
# the server goes on: a new connection on the vhost echoes, nothing of
# ours or core's at error level, no child died
{
    my $c = WSClient->connect(vhost => 'ws_parked', path => '/parked-silent');
    $c->send_text('after');
    my $f = $c->read_frame(timeout => 5 * $F);
    ok t_cmp($f ? $f->{payload} : 'none', 'after',
             'afterwards a new connection echoes');
    $c->send_close(1000);
    $c->read_until_close(timeout => 5);
}
my @bad = grep { /\[[\w-]*:?(?:error|crit|alert|emerg)\]/
                 || /exit signal|AH00052|Segmentation fault/ }
          split /\n/, log_since($mark);
print "# $_\n" for @bad[0 .. ($#bad < 9 ? $#bad : 9)];
ok t_cmp(scalar @bad, 0, 'no error-level line, no child died');
