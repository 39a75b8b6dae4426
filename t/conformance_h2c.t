# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# The conformance walk of t/conformance_h2.t over cleartext HTTP/2 (h2c
# with prior knowledge, vhost h2c of t/conf/stack.conf.in): the same cases,
# the same checks, WebSockets on RFC 8441 extended CONNECT streams.
use strict;
use warnings FATAL => 'all';

use FindBin;

our $H2_HOW = 'h2c';
my $t = "$FindBin::Bin/conformance_h2.t";
unless (defined do $t) {
    die "cannot run $t: " . ($@ || $!) . "\n";
}
