# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# WebSocket connections show up on server-status (mod_status): how many
# are open, how many are closing, how many were accepted; and channels:
# how many, their subscriptions, messages published and delivered,
# drops and closes for slow subscribers, history and memory in use.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Time::HiRes qw(time sleep);
use Apache::Test qw(plan ok need_module);
use Apache::TestUtil qw(t_cmp);
use Apache::TestRequest qw(GET_BODY POST);
use WSClient;

plan tests => 13, need_module 'mod_websocket.c', 'mod_status.c';

sub counts {
    my $body = GET_BODY('/server-status?auto');
    my %c = $body =~ /^(WebSocket\w+): (\d+)$/mg;
    \%c;
}

my $before = counts();
ok t_cmp($before->{WebSocketOpen}, 0, 'no WebSocket open before');

my @c = map { WSClient->connect(path => '/echo') } 1 .. 3;
$_->send_text('hi') for @c;
$_->read_frame(timeout => 5) for @c;
my $open = counts();
ok t_cmp($open->{WebSocketOpen}, 3, 'three open');
ok t_cmp($open->{WebSocketAccepted} - ($before->{WebSocketAccepted} // 0), 3,
         'three more accepted');

# a plugin-initiated close the client does not answer: "closing"
my $t = WSClient->connect(path => '/test');
$t->send_text('close');
my $f = $t->read_frame(timeout => 5);
ok t_cmp($f ? $f->{opcode} : 'none', 8, 'the server started closing');
ok t_cmp(counts()->{WebSocketClosing}, 1, 'one closing');

for (@c) {
    $_->send_close(1000);
    $_->read_until_close(timeout => 5);
}
$t->send_close(1000);
$t->read_until_close(timeout => 5);
my $deadline = time + 5;
my $after;
do { sleep 0.1; $after = counts() }
    while ($after->{WebSocketOpen} || $after->{WebSocketClosing})
          && time < $deadline;
ok t_cmp("$after->{WebSocketOpen}/$after->{WebSocketClosing}", '0/0',
         'all closed again');

# ---- channels --------------------------------------------------------------
sub grew { my ($a, $b, $k) = @_; ($b->{$k} // 0) - ($a->{$k} // 0) }

my $ch = sprintf 'status-%x%x', $$, int(time);
$before = counts();
my @subs = map { WSClient->connect(path => "/sub/$ch") } 1 .. 3;
my $mid = counts();
ok t_cmp(grew($before, $mid, 'WebSocketChannelSubscriptions'), 3,
         'three more subscriptions');
POST("/pub/$ch", content => "m$_", 'Content-Type' => 'text/plain')
    for 1 .. 5;
my $got = 0;
for my $s (@subs) {
    for (1 .. 5) { $got++ if $s->read_frame(timeout => 5) }
}
ok t_cmp($got, 15, 'the subscribers got the five messages');
my $now = counts();
# (a plugin of the test server publishes on a timer: at least five)
ok t_cmp(grew($before, $now, 'WebSocketChannelPublished') >= 5
         ? 'counted' : grew($before, $now, 'WebSocketChannelPublished'),
         'counted', 'the five publishes counted');
ok t_cmp(grew($before, $now, 'WebSocketChannelDelivered'), 15,
         'fifteen more deliveries');
ok t_cmp($now->{WebSocketChannelHistoryMessages} >= 5
         && $now->{WebSocketChannelHistoryBytes} >= 10
         && $now->{WebSocketChannelMemoryUsed} > 0
         && $now->{WebSocketChannelMemoryUsed}
            < $now->{WebSocketChannelMemoryTotal} ? 'sane' : 'insane',
         'sane', 'history and memory figures');

# one that never reads, flooded: closed as slow, and counted
my $slow = WSClient->connect(path => "/slowsub/$ch-slow");
POST("/pub/$ch-slow", content => 'q' x 60000, 'Content-Type' => 'text/plain')
    for 1 .. 300;
my $r = $slow->read_until_close(timeout => 10);
my $last = counts();
ok t_cmp("$r->{code} " . grew($now, $last, 'WebSocketChannelSlowClosed'),
         '1008 1', 'a slow subscriber closed and counted');
my $html = GET_BODY('/server-status');
ok t_cmp($html =~ m{<h3>Channels</h3>.*deliveries}s ? 'shown' : 'missing',
         'shown', 'the HTML page has the channels');
$_->close_socket for @subs, $slow;
