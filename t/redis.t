# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# Channels across servers through Redis (README "More than one server"):
# the test starts its own redis-server (loopback, a temporary dir, no
# persistence but on demand) and private httpd servers ("machines") that
# point at it, each with its own config written here:
#  - the directives' config errors (no password in any message);
#  - Redis unreachable at startup: httpd starts, publishers get 503,
#    subscribers connect and get messages once Redis is there;
#  - publish on A, deliver on A and B in one order, with the same ids;
#    201/202 and what "subscribers" counts; GET and DELETE through Redis;
#    507 when Redis is out of memory; a graceful restart;
#  - resume on B with an id received from A; a gap notice for an id not
#    retained; subscribers joining B (resuming or not) while A publishes:
#    every id once, in order, none missing at the seam;
#  - kill -STOP/-CONT of redis-server and restarts with and without its
#    data during steady publishing: every accepted message (201/202) is
#    delivered in order or covered by a gap notice, the others got 503;
#  - a plugin's subscribe() and publish() (API v1, the chat example) on
#    two servers;
#  - a channel only subscribed to expires in Redis, a published one not;
#  - password (requirepass), a wrong password, a unix socket.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(plan ok skip need);
use Apache::TestUtil qw(t_cmp);
use IO::Socket::IP ();
use JSON::PP ();
use LWP::UserAgent ();
use HTTP::Request ();
use POSIX ();
use Time::HiRes qw(time sleep);
use WSClient;
use WSTest qw(httpd_t tempdir free_port read_text case ncases run_cases);

my $json = JSON::PP->new->canonical;
my $run  = sprintf '%x%x', $$, int(time);
sub ch { "$_[0]-$run" }

my ($redis_bin) = grep { -x } map { "$_/redis-server" }
                  split(/:/, $ENV{PATH} || ''), '/usr/sbin', '/usr/bin';
my $supported = !(httpd_t(body => "WebSocketChannelBroker "
                          . "redis://127.0.0.1:1\n"))[0];


my $httpd = Apache::Test::vars()->{httpd};
my (@servers, @redises);

# ---- redis-server -------------------------------------------------------

# one command in RESP; the first line of the answer (undef: no answer)
sub redis_cmd {
    my ($r, @cmd) = @_;
    my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1',
                                PeerPort => $r->{port}, Timeout => 2)
        or return undef;
    my $out = '';
    for my $c ($r->{pass} ? (['AUTH', $r->{pass}], \@cmd) : (\@cmd)) {
        $out .= '*' . @$c . "\r\n"
              . join('', map { '$' . length($_) . "\r\n$_\r\n" } @$c);
    }
    print $s $out;
    my $line;
    $line = <$s> for 1 .. ($r->{pass} ? 2 : 1);
    close $s;
    $line;
}

# PUBSUB NUMSUB of a channel's pub/sub channel: the connections (children)
# listening
sub redis_numsub {
    my ($r, $ch) = @_;
    my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1',
                                PeerPort => $r->{port}, Timeout => 2)
        or return undef;
    my $name = "ws:$ch";
    print $s "*3\r\n\$6\r\nPUBSUB\r\n\$6\r\nNUMSUB\r\n\$"
        . length($name) . "\r\n$name\r\n";
    my $n;
    while (defined(my $l = <$s>)) {
        if ($l =~ /^:(\d+)/) { $n = $1; last }
    }
    close $s;
    $n;
}

sub redis_start {
    my ($r) = @_;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        open STDOUT, '>>', "$r->{dir}/redis.log";
        open STDERR, '>&', \*STDOUT;
        exec($redis_bin, '--port', $r->{port}, '--bind', '127.0.0.1',
             '--dir', $r->{dir}, '--save', '', '--appendonly', 'no',
             '--daemonize', 'no', '--logfile', '',
             ($r->{pass} ? ('--requirepass', $r->{pass}) : ()),
             ($r->{unix} ? ('--unixsocket', $r->{unix},
                            '--unixsocketperm', '777') : ()))
            or POSIX::_exit(127);
    }
    $r->{pid} = $pid;
    my $deadline = time + 10;
    until (($r->{unix} ? -S $r->{unix} : 1)
           && (redis_cmd($r, 'PING') // '') =~ /^\+PONG/) {
        die "redis-server did not start: " . read_text("$r->{dir}/redis.log")
            if time > $deadline || waitpid($pid, POSIX::WNOHANG()) == $pid;
        sleep 0.05;
    }
    $r;
}

sub redis_new {
    my %a = @_;
    my $dir = tempdir();
    my $r = { port => free_port(), dir => $dir, %a };
    $r->{unix} = "$dir/redis.sock" if $a{unix};
    push @redises, $r;
    $r;
}

sub redis_gone {
    my ($r) = @_;
    my $deadline = time + 10;
    while (waitpid($r->{pid}, POSIX::WNOHANG()) != $r->{pid}) {
        if (time > $deadline) {
            kill 'KILL', $r->{pid};
            waitpid $r->{pid}, 0;
            last;
        }
        sleep 0.02;
    }
    delete $r->{pid};
}

# ---- httpd servers ------------------------------------------------------

# the suite's MPM (WS_TEST_MPM): prefork children serve one connection
# each, and each has its own listener
my $mpm = $ENV{WS_TEST_MPM} || 'event';
my $procs = $mpm eq 'prefork' ? <<'P' : <<'T';
StartServers 4
MinSpareServers 2
MaxSpareServers 16
ServerLimit 16
MaxRequestWorkers 16
P
StartServers 2
ServerLimit 2
ThreadsPerChild 25
MaxRequestWorkers 50
MinSpareThreads 10
MaxSpareThreads 50
T

my $chat_so = Apache::Test::vars()->{ws_chat_so} || '';

sub body {
    my ($broker, %a) = @_;
    my $extra = $a{extra} || '';
    $extra .= "\n<Location /chat-room>\n    SetHandler websocket-handler\n"
            . "    WebSocketHandler $chat_so chat_init\n</Location>\n"
        if $chat_so;
    return <<"CONF";
$procs
LogLevel warn websocket:info
WebSocketChannelBroker $broker
WebSocketChannelBrokerTimeout 500ms
$extra
<Location /server-status>
    SetHandler server-status
</Location>
<LocationMatch "^/sub/(?<room>[A-Za-z0-9_.-]{1,64})\$">
    SetHandler websocket-handler
    WebSocketChannel "%{env:MATCH_ROOM}"
</LocationMatch>
<LocationMatch "^/chat/(?<room>[A-Za-z0-9_.-]{1,64})\$">
    SetHandler websocket-handler
    WebSocketChannel "%{env:MATCH_ROOM}"
    WebSocketChannelPublish On
</LocationMatch>
<LocationMatch "^/pub/(?<room>[A-Za-z0-9_.-]{1,64})\$">
    SetHandler websocket-publisher
    WebSocketChannel "%{env:MATCH_ROOM}"
</LocationMatch>
<LocationMatch "^/pub-long/(?<room>[A-Za-z0-9_.-]{1,64})\$">
    SetHandler websocket-publisher
    WebSocketChannel "%{env:MATCH_ROOM}"
    WebSocketChannelHistory 5000
</LocationMatch>
<LocationMatch "^/pub-short/(?<room>[A-Za-z0-9_.-]{1,64})\$">
    SetHandler websocket-publisher
    WebSocketChannel "%{env:MATCH_ROOM}"
    WebSocketChannelHistory 3
</LocationMatch>
CONF
}

sub httpd_up {
    my ($name, $broker, %a) = @_;
    my $root = tempdir();
    my $port = free_port();
    my $conf = WSTest::httpd_conf($root, "127.0.0.1:$port", mpm => $mpm,
                                  modules => ['status'],
                                  body => body($broker, %a));
    my $out = `'$httpd' -f '$conf' -k start 2>&1`;
    die "httpd $name: -k start failed: $out" if $?;
    my $srv = { name => $name, root => $root, port => $port };
    push @servers, $srv;
    my $deadline = time + 15;
    until ($srv->{pid} && read_text("$root/error_log")
           =~ /resuming normal operations/) {
        ($srv->{pid}) = read_text("$root/httpd.pid") =~ /(\d+)/;
        die "httpd $name did not come up: " . read_text("$root/error_log")
            if time > $deadline;
        sleep 0.1;
    }
    $srv;
}

sub httpd_down {
    my ($srv) = @_;
    return unless $srv->{pid};
    kill 'TERM', $srv->{pid};
    my $deadline = time + 10;
    sleep 0.05 while kill(0, $srv->{pid}) && time < $deadline;
    kill 'KILL', $srv->{pid} if kill 0, $srv->{pid};
    delete $srv->{pid};
}

END {
    httpd_down($_) for @servers;
    for my $r (@redises) {
        next unless $r->{pid};
        kill 'TERM', $r->{pid};
        redis_gone($r);
    }
}

sub errlog { read_text("$_[0]{root}/error_log") }

# ---- clients ------------------------------------------------------------

my $ua = LWP::UserAgent->new(keep_alive => 1, timeout => 10);

# (code, json) of a request to a publisher of $srv
sub req {
    my ($srv, $method, $ch, $body, $path) = @_;
    my $req = HTTP::Request->new($method,
        "http://127.0.0.1:$srv->{port}" . ($path || '/pub') . "/$ch");
    $req->header('Content-Type' => 'text/plain');
    $req->content($body) if defined $body;
    my $res = $ua->request($req);
    ($res->code, eval { $json->decode($res->content) });
}
sub publish { req($_[0], 'POST', $_[1], $_[2], $_[3]) }

sub subscribe {
    my ($srv, $ch, %a) = @_;
    my $q = defined $a{last_id} ? "?last_id=$a{last_id}" : '';
    WSClient->connect(port => $srv->{port}, path => "/sub/$ch$q",
                      protocols => 'channel-meta', timeout => 10);
}

# channel-meta frames -> {id, e, s, data} or {gap, last, next}
sub parse_meta {
    my ($p) = @_;
    if ($p =~ /^id: ((\d+):(\d+))\nchannel: [^\n]*\n\n(.*)\z/s) {
        return { id => $1, e => $2, s => $3, data => $4 };
    }
    if ($p =~ /^gap: [^\n]*\nlast_id: ([^\n]*)\nnext_id: (\d+):(\d+)\n\n\z/) {
        my ($last, $ne, $ns) = ($1, $2, $3);
        my ($le, $ls) = $last =~ /^(\d+):(\d+)$/ ? ($1, $2) : (0, 0);
        return { gap => 1, le => $le, ls => $ls, ne => $ne, ns => $ns };
    }
    { other => $p };
}

# up to $n messages (gap notices included) within $t seconds
sub msgs {
    my ($c, $n, $t) = @_;
    my @m;
    my $deadline = time + ($t || 5);
    while (@m < $n && time < $deadline) {
        my $f = $c->read_frame(timeout => $deadline - time) or last;
        if ($f->{opcode} == 8) {
            push @m, { close => WSClient::close_code($f),
                       reason => WSClient::close_reason($f) };
            last;
        }
        next if $f->{opcode} >= 8;    # the server's pings
        push @m, parse_meta($f->{payload});
    }
    @m;
}

# one message for a diagnostic
sub show {
    my ($m) = @_;
    return "gap($m->{le}:$m->{ls}->$m->{ne}:$m->{ns})" if $m->{gap};
    return "close $m->{close}" if $m->{close};
    $m->{s} // "other[$m->{other}]";
}

sub ids { join '|', map { $_->{id} // ($_->{gap} ? 'gap' : '?') } @_ }
sub datas { join '|', map { $_->{data} // ($_->{gap} ? 'gap' : '?') } @_ }
sub done { $_->close_socket for grep { defined } @_ }

# ---- the directives -----------------------------------------------------

case(7, 'directives and their errors', sub {
    my ($rc, $out) = httpd_t(body => "WebSocketChannelBroker "
                             . "redis://user:s3cr3t\@127.0.0.1:notaport/2\n");
    ok t_cmp($rc != 0 && $out =~ /WebSocketChannelBroker: the port is not/
             ? 'refused' : "exit $rc: $out", 'refused',
             'a bad port is a config error');
    ok t_cmp($out =~ /s3cr3t/ ? 'shown' : 'not shown', 'not shown',
             'the password is not in the message');
    ($rc, $out) = httpd_t(body => "WebSocketChannelBroker http://x\n");
    ok t_cmp($rc != 0 && $out =~ /expected Off, redis:/ ? 'refused' : $out,
             'refused', 'another scheme is refused');
    ($rc, $out) = httpd_t(body => "WebSocketChannelBroker "
                          . "redis+unix:///run/r.sock?db=x\n");
    ok t_cmp($rc != 0 && $out =~ /\?db=N/ ? 'refused' : $out, 'refused',
             'a bad unix query is refused');
    ($rc, $out) = httpd_t(body => "WebSocketChannelBroker redis://h:1/3\n"
                          . "WebSocketChannelBrokerPassword pw\n"
                          . "WebSocketChannelBrokerTimeout 250ms\n"
                          . "WebSocketChannelBroker redis+unix:///r.sock?db=1\n"
                          . "WebSocketChannelBroker off\n");
    ok t_cmp($rc, 0, 'valid forms are accepted') or print "# $out\n";
    ($rc, $out) = httpd_t(body => "WebSocketChannelBrokerTimeout 0\n");
    ok t_cmp($rc != 0 && $out =~ /WebSocketChannelBrokerTimeout/
             ? 'refused' : $out, 'refused', 'a zero timeout is refused');
    ($rc, $out) = httpd_t(body => "<VirtualHost 127.0.0.1:1>\n"
                          . "WebSocketChannelBroker redis://h\n"
                          . "</VirtualHost>\n");
    ok t_cmp($rc != 0 && $out =~ /cannot occur within <VirtualHost>/
             ? 'refused' : $out, 'refused', 'main server only');
});

# ---- two servers ---------------------------------------------------------

my ($R, $A, $B);

case(5, 'Redis unreachable at startup', sub {
    # A starts before its Redis exists
    $R = redis_new();
    $A = httpd_up('A', "redis://127.0.0.1:$R->{port}");
    my $c = ch('early');
    my $ws = subscribe($A, $c);
    ok t_cmp($ws->status, 101, 'a subscriber connects without Redis');
    my ($code, $j) = publish($A, $c, 'lost');
    ok t_cmp($code, 503, 'a publish is refused with 503');
    my $why = qr{WS01003: channel broker redis://127\.0\.0\.1:\d+/0 unavail};
    ok t_cmp(errlog($A) =~ $why ? 'logged' : errlog($A), 'logged',
             'the error log says why');
    redis_start($R);
    my $deadline = time + 10;
    ($code) = publish($A, $c, 'first') until ($code // 0) != 503
                                            || time > $deadline;
    # 202 if the listeners are not back yet: the subscriber then gets it
    # from the catch-up
    ok t_cmp($code =~ /^20[12]$/ ? 'stored' : $code, 'stored',
             'once Redis is there, publishes go through');
    my @m = msgs($ws, 1);
    ok t_cmp(datas(@m), 'first',
             'the subscriber gets that message (not the refused one)');
    done($ws);
});

case(12, 'publish on A, deliver on A and B', sub {
    $B = httpd_up('B', "redis://127.0.0.1:$R->{port}/0");
    my $c = ch('two');
    my ($code, $j) = publish($B, $c, 'nobody');
    ok t_cmp($code, 202, 'no subscriber anywhere: 202');
    ok t_cmp($j && $j->{subscribers}, 0, '"subscribers": 0');
    my @subs = (subscribe($A, $c), subscribe($A, $c), subscribe($B, $c));
    my (@ids, $subs);
    for my $i (1 .. 10) {
        ($code, $j) = publish($i % 2 ? $A : $B, $c, "m$i");
        push @ids, $j ? $j->{id} : "($code)";
        $subs = $j->{subscribers} if $i == 1;
    }
    ok t_cmp($code, 201, 'with subscribers: 201');
    # two subscribers in A (one or two children listening) and one in B
    ok t_cmp($subs >= 2 && $subs <= 3 ? 'children' : $subs, 'children',
             '"subscribers" counts the children listening, on both servers');
    my ($e) = $ids[0] =~ /^(\d+):/;
    ok t_cmp(join(',', @ids), join(',', map { "$e:$_" } 2 .. 11),
             'one id sequence for both servers (after the 202 one)');
    my @got = map { ids(msgs($_, 10)) } @subs;
    ok t_cmp($got[0], join('|', @ids), 'A\'s first subscriber: all, in order');
    ok t_cmp($got[1], $got[0], 'A\'s second: the same');
    ok t_cmp($got[2], $got[0], 'B\'s subscriber: the same');
    my ($ic, $info) = req($A, 'GET', $c);
    ok t_cmp($info && "$info->{last_id} $info->{messages}", "$ids[-1] 11",
             'GET on A: last id and messages retained, from Redis');
    ($ic, $info) = req($B, 'GET', $c);
    ok t_cmp($info && $info->{subscribers} >= 2 ? $info->{last_id} : '',
             $ids[-1], 'GET on B: the same, and the children listening');
    ok t_cmp(redis_numsub($R, $c), $subs,
             'Redis: as many listeners as the publisher counted');
    done(@subs);
    my $deadline = time + 5;
    sleep 0.1 while redis_numsub($R, $c) && time < $deadline;
    ok t_cmp(redis_numsub($R, $c), 0,
             'after the last subscriber, no server listens to the channel');
});

case(3, 'server-status counts what went through Redis', sub {
    my $status = sub {
        my $ua = LWP::UserAgent->new(timeout => 10);
        my $r = $ua->get("http://127.0.0.1:$_[0]{port}/server-status?auto");
        my %c = $r->content =~ /^(WebSocketChannel\w+): (\d+)$/mg;
        \%c;
    };
    my $c = ch('status');
    my $ws = subscribe($B, $c);
    my $a0 = $status->($A);
    my $b0 = $status->($B);
    publish($A, $c, "s$_") for 1 .. 3;
    my @m = msgs($ws, 3);
    my $a1 = $status->($A);
    my $b1 = $status->($B);
    ok t_cmp(($a1->{WebSocketChannelBrokerPublished} // 0)
             - ($a0->{WebSocketChannelBrokerPublished} // 0), 3,
             'A counts the three it stored in Redis');
    ok t_cmp($a1->{WebSocketChannelBrokerFailed} >= 1 ? 'counted' : 'none',
             'counted', 'and the publish refused while Redis was away');
    ok t_cmp(($b1->{WebSocketChannelDelivered} // 0)
             - ($b0->{WebSocketChannelDelivered} // 0), 3,
             'B counts the three deliveries to its subscriber');
    done($ws);
});

case(2, 'a client\'s message (WebSocketChannelPublish) through Redis', sub {
    my $c = ch('chat');
    my $onB = subscribe($B, $c);
    my $chat = WSClient->connect(port => $A->{port}, path => "/chat/$c",
                                 timeout => 10);
    $chat->send_text('hello from A');
    my @m = msgs($onB, 1);
    ok t_cmp(datas(@m), 'hello from A', 'a chat client on A reaches B');
    my $f = $chat->read_frame(timeout => 5);
    ok t_cmp($f && $f->{payload}, 'hello from A', 'and itself');
    done($onB, $chat);
});

# a text frame matching $re within 5 s (others are skipped)
sub wait_text {
    my ($c, $re) = @_;
    my $deadline = time + 5;
    while (time < $deadline) {
        my $f = $c->read_frame(timeout => $deadline - time) or last;
        return $f->{payload} if $f->{opcode} == 1 && $f->{payload} =~ $re;
    }
    undef;
}

case(2, 'a plugin\'s subscribe() and publish() (API v1) through Redis', sub {
    skip 'the chat example plugin was not built', 1 for 1 .. 2;
    return;
}) unless $chat_so;
case(2, 'a plugin\'s subscribe() and publish() (API v1) through Redis', sub {
    my $room = "r$run";
    my $alice = WSClient->connect(port => $A->{port}, timeout => 10,
                                  path => "/chat-room?name=alice&room=$room");
    ok t_cmp(wait_text($alice, qr/^\* alice joined$/), '* alice joined',
             'alice joined on A');
    my $bob = WSClient->connect(port => $B->{port}, timeout => 10,
                                path => "/chat-room?name=bob&room=$room");
    wait_text($bob, qr/^\* bob joined$/);
    $alice->send_text('hi bob');
    ok t_cmp(wait_text($bob, qr/^alice: /), 'alice: hi bob',
             'bob, on B, gets what alice says on A');
    done($alice, $bob);
}) if $chat_so;

case(6, 'resume on B from an id of A; gap; DELETE', sub {
    my $c = ch('res');
    my @ids = map { (publish($A, $c, "r$_"))[1]{id} } 1 .. 4;
    my $ws = subscribe($B, $c, last_id => $ids[1]);
    my @m = msgs($ws, 2);
    ok t_cmp(ids(@m), "$ids[2]|$ids[3]",
             'B replays what follows an id given by A');
    my (undef, $j) = publish($A, $c, 'r5');
    @m = msgs($ws, 1);
    ok t_cmp(ids(@m), $j->{id}, 'then live, without a gap or a double');
    my ($e) = split /:/, $ids[0];
    my $g = subscribe($B, $c, last_id => ($e - 1) . ':3');
    @m = msgs($g, 2);
    ok t_cmp($m[0] && $m[0]{gap} ? "$m[0]{ne}:$m[0]{ns}" : ids(@m), $ids[0],
             'an id of another epoch: a gap notice, then all retained');
    my $onA = subscribe($A, $c);
    sleep 0.2;
    my ($code, $d) = req($B, 'DELETE', $c);
    ok t_cmp($code, 200, 'DELETE through B: 200');
    @m = msgs($onA, 1);
    ok t_cmp($m[0] && $m[0]{close} ? "$m[0]{close} $m[0]{reason}" : ids(@m),
             '1000 channel deleted', 'A\'s subscriber is closed');
    (undef, $j) = publish($A, $c, 'after');
    my ($ne) = split /:/, $j->{id};
    ok t_cmp($ne > $e && $j->{id} =~ /:1$/ ? 'new' : $j->{id}, 'new',
             'the next id has a new, larger epoch and starts at 1');
    done($ws, $g, $onA);
});

case(2, 'the seam: resuming on B while A publishes', sub {
    my $c = ch('seam');
    my $live = subscribe($B, $c);
    publish($A, $c, "s0");
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        my $u = LWP::UserAgent->new(keep_alive => 1, timeout => 10);
        for my $i (1 .. 150) {
            my $req = HTTP::Request->new(POST =>
                "http://127.0.0.1:$A->{port}/pub/$c");
            $req->content("s$i");
            $u->request($req);
        }
        POSIX::_exit(0);
    }
    my @resumers;
    for my $k (1 .. 6) {
        sleep 0.05;
        my (undef, $i) = req($A, 'GET', $c);
        my ($e, $s) = split /:/, $i->{last_id};
        $s -= 2 if $s > 2;
        push @resumers, [subscribe($B, $c, last_id => "$e:$s"), $s],
                        [subscribe($B, $c), undef];
    }
    waitpid $pid, 0;
    my (undef, $fin) = req($A, 'GET', $c);
    my $last = (split /:/, $fin->{last_id})[1];
    my $bad = 0;
    for my $rs (@resumers) {
        my ($r, $s) = @$rs;
        my @m = defined $s ? msgs($r, $last - $s, 5) : msgs($r, $last, 1.5);
        my @seq = map { $_->{s} // 'gap' } @m;
        # a fresh subscriber starts anywhere, then misses nothing
        $s = $seq[0] - 1 if !defined $s && @seq && $seq[0] =~ /^\d+$/;
        $s //= $last;
        if (join(',', @seq) ne join(',', $s + 1 .. $last)) {
            $bad++;
            print "# from $s: ", join(',', map { show($_) } @m), "\n";
        }
    }
    ok t_cmp($bad, 0, '12 subscribers joined on B during publishing on A '
             . '(6 resuming): every id once, in order, none missing');
    my @m = msgs($live, $last, 5);
    print "# live: ", show($_), "\n" for grep { $_->{gap} } @m;
    ok t_cmp(join(',', map { $_->{s} // 'gap' } @m), join(',', 1 .. $last),
             'a live subscriber on B: all of them');
    done($live, map { $_->[0] } @resumers);
});

case(3, 'a graceful restart of A: the ids go on, resuming works', sub {
    my $c = ch('graceful');
    my (undef, $j) = publish($A, $c, 'before');
    my $log = "$A->{root}/error_log";
    my $n = () = read_text($log) =~ /resuming normal operations/g;
    system "'$httpd' -f '$A->{root}/httpd-t.conf' -k graceful";
    my $deadline = time + 10;
    sleep 0.1 while (() = read_text($log) =~ /resuming normal operations/g) <= $n
                    && time < $deadline;
    my $ws = subscribe($A, $c, last_id => $j->{id});
    my ($code, $k) = publish($B, $c, 'after');
    my ($e, $s) = split /:/, $j->{id};
    ok t_cmp($k && $k->{id}, "$e:" . ($s + 1), 'the next id follows');
    my @m = msgs($ws, 1);
    ok t_cmp(ids(@m), $k->{id}, 'a subscriber of the new generation, '
             . 'resuming, gets it without a gap');
    ok t_cmp($code, 201, 'and was counted as listening');
    done($ws);
});

case(2, 'a channel only subscribed to expires in Redis', sub {
    my $c = ch('ttl');
    my $ws = subscribe($A, $c);
    my ($ttl) = (redis_cmd($R, 'PTTL', "ws:$c:meta") // '') =~ /^:(-?\d+)/;
    ok t_cmp(defined $ttl && $ttl > 3_600_000 ? 'expires' : $ttl // 'none',
             'expires', 'subscribed, never published: kept for a day');
    publish($B, $c, 'now it is used');
    ($ttl) = (redis_cmd($R, 'PTTL', "ws:$c:meta") // '') =~ /^:(-?\d+)/;
    ok t_cmp($ttl, -1, 'published: kept');
    done($ws);
});

case(2, 'Redis out of memory: 507', sub {
    my $c = ch('oom');
    redis_cmd($R, 'CONFIG', 'SET', 'maxmemory', '1');
    my ($code) = publish($A, $c, 'too much');
    redis_cmd($R, 'CONFIG', 'SET', 'maxmemory', '0');
    ok t_cmp($code, 507, 'a publish Redis refuses for memory: 507');
    ($code) = publish($A, $c, 'fits');
    ok t_cmp($code, 202, 'with memory again: stored');
});

# ---- faults during steady publishing -----------------------------------

# With a history longer than what is published while a server does not
# listen, what a subscriber misses is caught up from Redis: only the
# restart without data is a gap.
case(10, 'STOP/CONT and restarts of Redis: nothing lost silently', sub {
    my $c = ch('fault');
    my @subs = (subscribe($A, $c), subscribe($B, $c));
    my $plain = WSClient->connect(port => $B->{port}, path => "/sub/$c",
                                  timeout => 10);
    my ($plain_close, $plain_bad, $plain_n, $slowest) = ('', 0, 0, 0);
    my %got = map { $_ => [] } 0 .. $#subs;
    my $drain = sub {
        my ($t) = @_;
        for my $k (0 .. $#subs) {
            while (my $f = $subs[$k]->read_frame(timeout => $t)) {
                last if $f->{opcode} == 8;
                next if $f->{opcode} > 8;
                push @{ $got{$k} }, parse_meta($f->{payload});
                $t = 0.001;
            }
        }
    };
    my (%accepted, %status, $i);
    my $pub = sub {
        my ($secs) = @_;
        my $until = time + $secs;
        while (time < $until) {
            $i++;
            my $srv = $i % 2 ? $A : $B;
            my $t0 = time;
            my ($code, $j) = publish($srv, $c, "f$i", '/pub-long');
            $slowest = time - $t0 if time - $t0 > $slowest;
            $status{$code}++;
            $accepted{"f$i"} = $j->{id} if $code == 201 || $code == 202;
            $drain->(0.005);
            while (!$plain_close
                   && (my $f = $plain->read_frame(timeout => 0.001))) {
                if ($f->{opcode} == 8) {
                    $plain_close = WSClient::close_code($f) . ' '
                                 . WSClient::close_reason($f);
                    last;
                }
                $plain_n++;
                $plain_bad++ unless $f->{payload} =~ /^f\d+$/;
            }
        }
    };
    $pub->(1.5);
    kill 'STOP', $R->{pid};
    $pub->(1.5);
    kill 'CONT', $R->{pid};
    $pub->(2);
    # restart with its data
    redis_cmd($R, 'SHUTDOWN', 'SAVE');
    redis_gone($R);
    $pub->(1);
    redis_start($R);
    $pub->(2.5);
    # restart without its data
    kill 'KILL', $R->{pid};
    redis_gone($R);
    unlink "$R->{dir}/dump.rdb";
    $pub->(1);
    redis_start($R);
    $pub->(3);
    # let catch-ups finish
    my $quiet = time + 3;
    while (time < $quiet) {
        my $before = 0;
        $before += @{ $got{$_} } for keys %got;
        $drain->(0.2);
        my $after = 0;
        $after += @{ $got{$_} } for keys %got;
        $quiet = time + 3 if $after != $before;
    }
    my $n503 = $status{503} || 0;
    my $nok = keys %accepted;
    print "# published $i: ", join(', ', map { "$_ x$status{$_}" }
                                   sort keys %status), "\n";
    ok t_cmp(join(',', sort grep { !/^(201|202|503)$/ } keys %status), '',
             'every answer is 201, 202 or 503');
    ok t_cmp($n503 > 0 && $nok > 0 ? 'both' : "503: $n503, accepted: $nok",
             'both', 'some publishes refused with 503 while Redis was away');
    ok t_cmp(sprintf('%.1f', $slowest) < 2.5 ? 'bounded' : "$slowest s",
             'bounded', 'no publish took more than a few timeouts (500ms)');
    ok t_cmp("$plain_close, odd payloads $plain_bad",
             '1011 missed messages, odd payloads 0',
             "a plain subscriber ($plain_n messages) is closed 1011 by the "
             . 'gap of the restart without data');
    for my $k (0 .. $#subs) {
        my @m = @{ $got{$k} };
        my ($order, $lost, $wrong, @gaps) = (0, 0, 0);
        my @prev = (0, 0);
        my %have;
        for my $m (@m) {
            if ($m->{gap}) { push @gaps, $m; next }
            next unless defined $m->{id};
            $order++ if $m->{e} < $prev[0]
                        || ($m->{e} == $prev[0] && $m->{s} <= $prev[1]);
            @prev = ($m->{e}, $m->{s});
            $wrong++ if defined $accepted{$m->{data}}
                        && $accepted{$m->{data}} ne $m->{id};
            $have{$m->{data}} = 1;
        }
        my $before = sub {    # a before b
            $_[0] < $_[2] || ($_[0] == $_[2] && $_[1] < $_[3]);
        };
        for my $d (keys %accepted) {
            next if $have{$d};
            my ($e, $s) = split /:/, $accepted{$d};
            $lost++ unless grep { $before->($_->{le}, $_->{ls}, $e, $s)
                                  && $before->($e, $s, $_->{ne}, $_->{ns}) }
                           @gaps;
        }
        my $name = $k ? 'B' : 'A';
        print "# $name: gap from $_->{le}:$_->{ls} to $_->{ne}:$_->{ns}\n"
            for @gaps;
        ok t_cmp("order $order, wrong ids $wrong", 'order 0, wrong ids 0',
                 "$name: in order, no duplicates, the ids the publisher got");
        ok t_cmp($lost, 0, "$name: every accepted message delivered or "
                 . "inside a gap notice (" . scalar(keys %have)
                 . " delivered, " . scalar(@gaps) . " gaps)");
        ok t_cmp(join(',', map { $_->{ne} != $_->{le} ? 'epoch' : 'same' }
                      @gaps), 'epoch', "$name: caught up after STOP/CONT and "
                 . "the restart with data; one gap, to the new epoch, after "
                 . "the restart without");
    }
    done(@subs, $plain);
});

# ---- password and unix socket -------------------------------------------

case(5, 'password (requirepass) and a unix socket', sub {
    my $P = redis_start(redis_new(pass => 'pa55-w0rd', unix => 1));
    my $C = httpd_up('C', "redis+unix://$P->{unix}",
                     extra => 'WebSocketChannelBrokerPassword pa55-w0rd');
    my $D = httpd_up('D', "redis://:wrong-pa55\@127.0.0.1:$P->{port}");
    my $c = ch('auth');
    my $ws = subscribe($C, $c);
    my ($code, $j) = publish($C, $c, 'hello');
    ok t_cmp($code, 201, 'over the unix socket with the password: 201');
    ok t_cmp(datas(msgs($ws, 1)), 'hello', 'and delivered');
    ($code) = publish($D, $c, 'nope');
    ok t_cmp($code, 503, 'a wrong password: 503');
    my $log = errlog($D);
    ok t_cmp($log =~ /WS0100[35]: .*(WRONGPASS|invalid|NOAUTH)/ ? 'said' : $log,
             'said', 'the error log says why');
    ok t_cmp($log =~ /wrong-pa55|pa55-w0rd/ ? 'shown' : 'not shown',
             'not shown', 'and shows no password');
    done($ws);
    sleep 0.5; # the servers see the close before they stop
    httpd_down($_) for $C, $D;
});

case(1, 'no child of A or B died', sub {
    my $died = join '', map { errlog($_) =~ /(.*exit signal.*)/ ? "$1\n" : '' }
                        grep { defined } $A, $B;
    ok t_cmp($died, '', 'no "exit signal" in their error logs');
});

plan tests => ncases(),
    need({ 'redis-server is not installed (Debian: redis-server)'
               => defined $redis_bin,
           'mod_websocket was built without Redis support (hiredis)'
               => $supported });
run_cases();
