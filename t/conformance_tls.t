# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# The RFC 6455 conformance walk of t/conformance.t (every case of
# Autobahn|Testsuite groups 1-7, 9 and 10, strict), run over wss:// through
# mod_ssl (vhost mod_ssl): the same cases, the same checks, every byte
# through the TLS filters.  The biggest group 9 payloads are scaled down
# (WS_CONFORMANCE_QUICK, see t/conformance.t) to keep the runtime modest;
# set WS_CONFORMANCE_FULL=1 for Autobahn's sizes.
use strict;
use warnings FATAL => 'all';

use FindBin;
use Apache::Test qw(-withtestmore plan have_module);

unless (have_module('mod_ssl.c')) {
    plan skip_all => 'mod_ssl not loaded';
    exit 0;
}
$ENV{WS_CONFORMANCE_SSL} = 1;
$ENV{WS_CONFORMANCE_QUICK} = 1 unless $ENV{WS_CONFORMANCE_FULL};
my $walk = "$FindBin::Bin/conformance.t";
unless (defined do $walk) {
    die "cannot run $walk: " . ($@ || $!) . "\n";
}
