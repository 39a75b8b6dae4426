# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# WebSocket connections show up on server-status (mod_status): how many
# are open, how many are closing, how many were accepted.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Time::HiRes qw(time sleep);
use Apache::Test qw(plan ok need_module);
use Apache::TestUtil qw(t_cmp);
use Apache::TestRequest qw(GET_BODY);
use WSClient;

plan tests => 6, need_module 'mod_websocket.c', 'mod_status.c';

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
