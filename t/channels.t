# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# Pub/sub channels (README "Channels"; t/conf/channels.conf.in):
#  - the directives and their config errors (httpd -t);
#  - publisher answers: 201/202 and their JSON, GET info, 400 (bad UTF-8),
#    405 with Allow, 413 (Content-Length and chunked), 507 (memory full),
#    DELETE;
#  - subscribers: plain and channel-meta payloads, binary, two channels,
#    chat (WebSocketChannelPublish), a plugin location that subscribes;
#    over wss://, over HTTP/2 and with permessage-deflate (python3-
#    websockets) next to plain ones, all getting the same messages;
#  - delivery across children, in the same order for every subscriber,
#    without duplicates, with concurrent publishers;
#  - resume with ?last_id= and Last-Event-ID, across the seam with a
#    publisher running, with a gap (channel-meta notice, or close 1011);
#  - a subscriber that does not read: closed 1008 "slow" (or skipped, with
#    a gap notice when it catches up) while the others get everything;
#  - history by age; a child killed: its subscriptions stop counting; a
#    graceful restart keeps channels, history and ids.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(plan ok skip need_module);
use Apache::TestUtil qw(t_cmp);
use Apache::TestRequest ();
use IO::Socket::IP ();
use JSON::PP ();
use Time::HiRes qw(time sleep);
use WSClient;
use H2Bridge ();
use WSMem ();
use WSTest qw(case ncases run_cases log_mark log_since wait_log httpd_t);

my $json = JSON::PP->new->canonical;
my $run  = sprintf '%x%x', $$, int(time);
sub ch { "$_[0]-$run" }

sub decode { my $j = eval { $json->decode($_[0]) }; $j }

# POST (or another method) to a publisher; (code, json, response)
sub publish {
    my ($ch, $body, %a) = @_;
    my $path = $a{path} || '/pub';
    my $ua = Apache::TestRequest::user_agent(keep_alive => 0);
    my $url = Apache::TestRequest::resolve_url("$path/$ch");
    my $req = HTTP::Request->new($a{method} || 'POST', $url);
    $req->header('Content-Type' => $a{type} || 'text/plain');
    $req->content($body) if defined $body;
    my $res = $ua->request($req);
    ($res->code, decode($res->content), $res);
}

sub info {
    my $res = Apache::TestRequest::GET("/pub/$_[0]");
    ($res->code, decode($res->content));
}

sub subscribe {
    my ($path, %a) = @_;
    WSClient->connect(path => $path, %a);
}

# up to $n data frames (stops at a close frame or a timeout)
sub frames {
    my ($c, $n, $t) = @_;
    my @f;
    while (@f < $n) {
        my $f = $c->read_frame(timeout => $t || 10) or last;
        last if $f->{opcode} == 8;
        push @f, $f;
    }
    @f;
}

sub payloads { map { $_->{payload} } @_ }

sub meta_id {
    my $p = shift;
    $p =~ /^id: (\d+:\d+)\nchannel: ([^\n]*)\n\n(.*)\z/s ? ($1, $2, $3) : ();
}

sub done { $_->close_socket for grep { defined } @_ }

# ---- configuration errors ---------------------------------------------
sub loc { "<Location /c>\n    SetHandler websocket-handler\n"
          . join("\n", @_) . "\n</Location>\n" }
my @refuse = (
    ['WebSocketChannel bad expression', loc('    WebSocketChannel "%{"'),
     [qr/WebSocketChannel/, qr/expression/i]],
    ['WebSocketChannel without argument', loc('    WebSocketChannel'),
     [qr/WebSocketChannel/]],
    ['WebSocketChannelPublish maybe', loc('    WebSocketChannelPublish maybe'),
     [qr/WebSocketChannelPublish/]],
    ['WebSocketChannelHistory abc', loc('    WebSocketChannelHistory abc'),
     [qr/WebSocketChannelHistory/, qr/messages/]],
    ['WebSocketChannelHistory 1 -5', loc('    WebSocketChannelHistory 1 -5'),
     [qr/WebSocketChannelHistory/, qr/seconds/]],
    ['WebSocketChannelHistory 1 2 3', loc('    WebSocketChannelHistory 1 2 3'),
     [qr/WebSocketChannelHistory/]],
    ['WebSocketSlowSubscriber wait', loc('    WebSocketSlowSubscriber wait'),
     [qr/WebSocketSlowSubscriber/, qr/close/, qr/drop/]],
    ['WebSocketChannelMemory 100', "WebSocketChannelMemory 100\n",
     [qr/WebSocketChannelMemory/, qr/16384/]],
    ['WebSocketChannelMemory in a Location',
     loc('    WebSocketChannelMemory 1048576'),
     [qr/WebSocketChannelMemory/, qr/not allowed/]],
    ['WebSocketChannelMemory in a VirtualHost',
     "<VirtualHost 127.0.0.1:1>\nWebSocketChannelMemory 1048576\n"
     . "</VirtualHost>\n",
     [qr/WebSocketChannelMemory/, qr/VirtualHost/]],
    ['256 channels in one section',
     loc(map { "    WebSocketChannel \"c$_\"" } 1 .. 256),
     [qr/WebSocketChannel/, qr/255/]],
);
for my $r (@refuse) {
    my ($name, $body, $res) = @$r;
    case(1 + @$res, "httpd -t refuses: $name", sub {
        my ($exit, $out) = httpd_t(body => $body);
        ok t_cmp($exit != 0 ? 'refused' : "exit $exit: $out", 'refused',
                 "$name: httpd -t fails");
        ok t_cmp($out, $_, "$name: message names $_") for @$res;
    });
}
case(1, 'httpd -t accepts every directive', sub {
    my ($exit, $out) = httpd_t(body => "WebSocketChannelMemory 1048576\n"
        . loc('    WebSocketChannel "%{REQUEST_URI}"',
              '    WebSocketChannel "fixed"', '    WebSocketChannelPublish On',
              '    WebSocketChannelHistory 0', '    WebSocketChannelHistory 5 0',
              '    WebSocketSlowSubscriber DROP'));
    ok t_cmp("$exit $out", qr/^0 .*Syntax OK/s, 'accepted');
});

# ---- publisher answers ----------------------------------------------------
case(9, 'publish without subscribers: 202, JSON; GET; binary', sub {
    my $c = ch('p');
    my ($code, $j) = publish($c, 'hello');
    ok t_cmp($code, 202, 'no subscriber: 202 Accepted');
    ok t_cmp($j && $j->{channel}, $c, 'JSON names the channel');
    ok t_cmp($j && $j->{subscribers}, 0, 'JSON: 0 subscribers');
    ok t_cmp($j && $j->{id}, qr/^\d+:1$/, 'JSON: first id is <epoch>:1');
    my ($code2, $j2) = publish($c, "\x00\xff", type => 'application/octet-stream');
    ok t_cmp($code2, 202, 'binary body accepted');
    ok t_cmp($j2 && $j2->{id}, qr/^\d+:2$/, 'next id counts up');
    my ($gc, $info) = info($c);
    ok t_cmp($gc, 200, 'GET: 200');
    ok t_cmp($info && "$info->{messages} $info->{subscribers} $info->{last_id}",
             "2 0 $j2->{id}", 'GET: messages retained, subscribers, last id');
    my (undef, $none) = info(ch('never'));
    ok t_cmp($none && defined $none->{last_id} ? 'id' : 'null', 'null',
             'GET of an unknown channel: last_id null');
});

case(8, 'publisher errors: 400, 405, 413, no channel', sub {
    my $c = ch('err');
    my ($code, $j) = publish($c, "bad \xc3\x28 utf8");
    ok t_cmp($code, 400, 'invalid UTF-8 in a text body: 400');
    ok t_cmp($j && $j->{status}, 400, '400 with a JSON body');
    my (undef, undef, $res) = publish($c, 'x', method => 'PATCH');
    ok t_cmp($res->code, 405, 'PATCH: 405');
    ok t_cmp($res->header('Allow') // '', qr/GET.*POST.*PUT.*DELETE/,
             '405 names the methods in Allow');
    ($code, $j) = publish($c, 'x' x 65537);
    ok t_cmp($code, 413, 'Content-Length above WebSocketMaxMessageSize: 413');
    ok t_cmp($j && $j->{status}, 413, '413 with a JSON body');
    # chunked: the size is learnt while reading
    my $sock = IO::Socket::IP->new(PeerAddr => '127.0.0.1',
        PeerPort => (Apache::TestRequest::hostport() =~ /:(\d+)$/)[0]);
    my $chunk = 'y' x 32768;
    print $sock "POST /pub/$c HTTP/1.1\r\nHost: localhost\r\n"
        . "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
        . join('', map { sprintf("%x\r\n%s\r\n", length $chunk, $chunk) } 1 .. 3)
        . "0\r\n\r\n";
    local $/ = "\r\n";
    my $status = <$sock> // '';
    ok t_cmp($status, qr/^HTTP\/1\.1 413/, 'chunked body above the limit: 413');
    my (undef, undef, $r2) = publish('', 'x', path => '/pub-nochan');
    ok t_cmp($r2->code, 500, 'publisher location without WebSocketChannel: 500');
});

# ---- subscribers --------------------------------------------------------
case(11, 'a subscriber gets text and binary; GET counts it; 201', sub {
    my $c = ch('s');
    my $ws = subscribe("/sub/$c");
    ok t_cmp($ws->status, 101, 'subscriber: 101');
    my (undef, $i) = info($c);
    ok t_cmp($i && $i->{subscribers}, 1, 'GET counts the subscriber');
    my ($code, $j) = publish($c, "h\xc3\xa9llo");
    ok t_cmp($code, 201, 'a subscriber: 201 Created');
    ok t_cmp($j && $j->{subscribers}, 1, 'JSON: 1 subscriber');
    my ($f) = frames($ws, 1);
    ok t_cmp($f && $f->{opcode}, 1, 'text frame');
    ok t_cmp($f && $f->{payload}, "h\xc3\xa9llo", 'the body, unchanged');
    publish($c, "\x01\x02\x00", type => 'image/png');
    ($f) = frames($ws, 1);
    ok t_cmp($f && $f->{opcode}, 2, 'binary frame for a non-text type');
    ok t_cmp($f && $f->{payload}, "\x01\x02\x00", 'binary payload');
    $ws->send_text('not published');
    sleep 0.3;
    my (undef, $i2) = info($c);
    ok t_cmp($i2 && $i2->{messages}, 2,
             'WebSocketChannelPublish Off: client messages are not published');
    done($ws);
    my $gone;
    for (1 .. 50) {
        my (undef, $i3) = info($c);
        last if $i3 && !$i3->{subscribers} && ($gone = 1);
        sleep 0.1;
    }
    ok t_cmp($gone, 1, 'a closed subscriber is no longer counted');
    my $e = subscribe('/sub-empty');
    ok t_cmp($e->status, 404, 'empty channel expression: 404');
});

case(7, 'channel-meta, two channels, chat, plugin location', sub {
    my $c = ch('m');
    my $ws = subscribe("/sub2/$c", protocols => ['x-other', 'channel-meta']);
    ok t_cmp($ws->header('Sec-WebSocket-Protocol'), 'channel-meta',
             'channel-meta agreed');
    my (undef, $j) = publish("$c-b", 'two');
    my ($f) = frames($ws, 1);
    ok t_cmp($f && $f->{payload}, "id: $j->{id}\nchannel: $c-b\n\ntwo",
             'prefix in the same frame: id, channel, blank line');
    my @chat = map { subscribe("/chat/$c") } 1 .. 2;
    $chat[0]->send_text('hi all');
    my @got = map { (payloads(frames($_, 1)))[0] } @chat;
    ok t_cmp("@got", 'hi all hi all', 'chat: every member gets it, the sender too');
    my (undef, $i) = info($c);
    ok t_cmp($i && $i->{messages}, 1, 'chat message is in the history');
    my $e = subscribe('/echo-chan');
    $e->send_text('ping me');
    ($f) = frames($e, 1);
    ok t_cmp($f && $f->{payload}, 'ping me', 'plugin location: on_message still runs');
    my ($code) = publish('echo-chan', 'from outside');
    ok t_cmp($code, 201, 'plugin location: subscribed');
    ($f) = frames($e, 1);
    ok t_cmp($f && $f->{payload}, 'from outside', 'plugin location gets the channel');
    done($ws, @chat, $e);
});

# ---- over TLS, HTTP/2 and permessage-deflate ---------------------------
case(5, 'subscribers over wss://, HTTP/2 and permessage-deflate', sub {
    my $c = ch('stack');
    my @msgs = (['text', 'hello'], ['text', "caf\x{e9} \x{2713}"],
                ['binary', join '', map { chr(($_ * 7) & 255) } 0 .. 9999],
                ['text', 'compressible ' x 2000], ['text', '']);
    my $n = @msgs;
    my $plain = subscribe("/sub/$c");
    my $tls = subscribe("/sub/$c", ssl => 1);
    my $why = H2Bridge::available('h2');
    my ($b, $h2);
    if (!$why) {
        $b = H2Bridge->start('h2');
        $h2 = subscribe("/sub/$c", port => $b->port);
    }
    # python3-websockets offers permessage-deflate, as browsers do
    my $port = Apache::Test::vars('port');
    my $pid = open(my $py, '-|', '/usr/bin/python3',
                   "$FindBin::Bin/interop/chan_subscriber.py",
                   "ws://127.0.0.1:$port/sub/$c", $n) or die "python3: $!";
    my $ready = <$py> // '';
    my $want = 3 + ($h2 ? 1 : 0);
    for (1 .. 50) {
        my (undef, $i) = info($c);
        last if $i && $i->{subscribers} >= $want;
        sleep 0.1;
    }
    for my $m (@msgs) {
        my $body = $m->[1];
        utf8::encode($body) if $m->[0] eq 'text';
        publish($c, $body, type => $m->[0] eq 'text' ? 'text/plain'
                                   : 'application/octet-stream');
    }
    my $expect = join '|', map {
        my $p = $_->[1];
        utf8::encode($p) if $_->[0] eq 'text';
        ($_->[0] eq 'text' ? 1 : 2) . ':' . unpack('H*', $p)
    } @msgs;
    my $seen = sub {
        join '|', map { "$_->{opcode}:" . unpack('H*', $_->{payload}) }
            frames($_[0], $n, 10);
    };
    ok t_cmp($seen->($plain) eq $expect ? 'same' : 'differ', 'same',
             'a plain subscriber got every message');
    ok t_cmp($seen->($tls) eq $expect ? 'same' : 'differ', 'same',
             'a wss:// subscriber got the same');
    SKIP: {
        if ($why) {
            skip($why, 1);
            last SKIP;
        }
        ok t_cmp($seen->($h2) eq $expect ? 'same' : 'differ', 'same',
                 'an HTTP/2 subscriber got the same');
    }
    my $out = join '', <$py>;
    waitpid $pid, 0;
    my $r = decode((split /\n/, $out)[-1]);
    ok t_cmp($r && $r->{extensions}, qr/^permessage-deflate/,
             'python3-websockets agreed permessage-deflate');
    my $got = $r ? join '|', map {
        ($_->[0] eq 'text' ? 1 : 2) . ':' . $_->[1] } @{ $r->{messages} }
        : $out;
    ok t_cmp($got eq $expect ? 'same' : 'differ: ' . substr($got, 0, 200),
             'same', 'the compressed subscriber got the same');
    done($plain, $tls, $h2);
    $b->stop if $b;
});

# ---- across children ----------------------------------------------------
case(5, 'every subscriber in every child, same order, no duplicates', sub {
    my $c = ch('x');
    my $mark = log_mark();
    my @subs = map { subscribe("/sub/$c") } 1 .. 40;
    ok t_cmp(scalar(grep { $_->status == 101 } @subs), 40, '40 subscribers');
    my $log = '';
    for (1 .. 50) {
        $log = log_since($mark);
        last if (() = $log =~ /WS00710/g) >= 40;
        sleep 0.1;
    }
    my %pid_of_port;
    while ($log =~ /\[pid (\d+)[^\]]*\].*\[client 127\.0\.0\.1:(\d+)\].*WS00710/g) {
        $pid_of_port{$2} = $1;
    }
    my %pids = map { ($pid_of_port{ $_->sock->sockport } // 'unknown') => 1 } @subs;
    delete $pids{unknown};
    ok t_cmp(scalar(keys %pids) >= 2 ? 'several' : join(',', keys %pids),
             'several', 'the subscribers are served by several children');
    # three publishers at once, 30 messages each
    my @kids;
    for my $p (1 .. 3) {
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if (!$pid) {
            publish($c, "p$p-$_") for 1 .. 30;
            require POSIX;
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }
    waitpid $_, 0 for @kids;
    my (%orders, $short, $dups, $fifo) = ();
    $dups = $short = $fifo = 0;
    for my $s (@subs) {
        my @p = payloads(frames($s, 90, 10));
        $short++ if @p != 90;
        my %seen;
        $dups++ if grep { $seen{$_}++ } @p;
        $orders{ join ',', @p } = 1;
        for my $p (1 .. 3) {
            my @mine = map { /^p$p-(\d+)$/ ? $1 : () } @p;
            $fifo++ if join(',', @mine) ne join(',', 1 .. 30);
        }
    }
    ok t_cmp($short, 0, 'every subscriber got all 90 messages');
    ok t_cmp($dups, 0, 'no duplicates');
    ok t_cmp(scalar(keys %orders) == 1 && $fifo == 0 ? 'same' : "orders "
             . scalar(keys %orders) . ", out of order $fifo", 'same',
             'one order for all, each publisher\'s in its order');
    done(@subs);
});

# ---- resume -------------------------------------------------------------
case(7, 'resume: after an id, across the seam, with Last-Event-ID', sub {
    my $c = ch('r');
    my @ids = map { (publish($c, "m$_"))[1]{id} } 1 .. 5;
    my $ws = subscribe("/sub/$c?last_id=$ids[1]",
                       protocols => 'channel-meta');
    my @p = payloads(frames($ws, 3));
    ok t_cmp(join('|', map { (meta_id($_))[0] } @p), "$ids[2]|$ids[3]|$ids[4]",
             'replays the retained messages after last_id, in order');
    my (undef, $j) = publish($c, 'm6');
    my ($f) = frames($ws, 1);
    ok t_cmp($f && (meta_id($f->{payload}))[2], 'm6', 'then live ones');
    my $h = subscribe("/sub/$c", headers => ['Last-Event-ID' => $ids[3]]);
    ok t_cmp(join('|', payloads(frames($h, 2))), 'm5|m6',
             'Last-Event-ID resumes too (plain payloads)');
    my $now = subscribe("/sub/$c?last_id=$j->{id}", protocols => 'channel-meta');
    ok t_cmp(scalar(frames($now, 1, 1)), 0, 'resuming from the newest: nothing');
    my $bad = subscribe("/sub/$c?last_id=nonsense");
    ok t_cmp($bad->status, 400, 'an unparsable id: 400');
    # the seam: a publisher keeps going while subscribers resume
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        publish($c, "s$_") for 1 .. 60;
        require POSIX;
        POSIX::_exit(0);
    }
    my ($bad_seam, $n, @resumers) = (0, 0);
    for my $k (1 .. 5) {
        sleep 0.05;
        my (undef, $i) = info($c);
        my $from = $i->{last_id};
        my ($e, $s) = split /:/, $from;
        $s -= 2 if $s > 8;
        my $r = subscribe("/sub/$c?last_id=$e:$s", protocols => 'channel-meta');
        push @resumers, [$r, $s];
    }
    waitpid $pid, 0;
    my (undef, $fin) = info($c);
    my $last = (split /:/, $fin->{last_id})[1];
    for my $rs (@resumers) {
        my ($r, $s) = @$rs;
        my @seq = map { (split /:/, (meta_id($_))[0] // '0:0')[1] }
                  payloads(frames($r, $last - $s, 10));
        $n++;
        $bad_seam++ if join(',', @seq) ne join(',', $s + 1 .. $last);
        done($r);
    }
    ok t_cmp("$n $bad_seam", '5 0',
             'resumed during publishing: every id once, in order, none missing');
    ok t_cmp(scalar(grep { $_->{payload} =~ /^gap:/ } frames($ws, 60, 5)), 0,
             'a live subscriber sees no gap');
    done($ws, $h, $now);
});

case(6, 'resume with a gap', sub {
    my $c = ch('g');
    my @ids = map { (publish($c, "g$_", path => '/pub-short'))[1]{id} } 1 .. 6;
    my $ws = subscribe("/sub/$c?last_id=$ids[0]", protocols => 'channel-meta');
    my @p = payloads(frames($ws, 4));
    ok t_cmp($p[0], "gap: $c\nlast_id: $ids[0]\nnext_id: $ids[3]\n\n",
             'channel-meta: a gap notice names what was given and what comes');
    ok t_cmp(join('|', map { (meta_id($_))[2] // '?' } @p[1 .. 3]), 'g4|g5|g6',
             'then the retained messages');
    my ($e) = split /:/, $ids[0];
    my $other = subscribe("/sub/$c?last_id=" . ($e + 1) . ':1',
                          protocols => 'channel-meta');
    ($p[0]) = payloads(frames($other, 1));
    ok t_cmp($p[0] // '', qr/^gap: \Q$c\E\nlast_id: \d+:1\nnext_id: \Q$ids[3]\E/,
             'another epoch: a gap');
    my $plain = subscribe("/sub/$c?last_id=$ids[0]");
    my $r = $plain->read_until_close(timeout => 5);
    ok t_cmp($r->{code}, 1011, 'without channel-meta a gap closes: 1011');
    ok t_cmp($r->{reason}, 'missed messages', 'reason "missed messages"');
    ok t_cmp(scalar(grep { $_->{opcode} != 8 } @{ $r->{frames} }), 0,
             'and nothing is delivered silently');
    done($ws, $other, $plain);
});

# ---- DELETE ---------------------------------------------------------------
case(5, 'DELETE closes subscribers and drops history', sub {
    my $c = ch('d');
    publish($c, 'old');
    my @s = map { subscribe("/sub/$c") } 1 .. 3;
    my ($code, $j) = publish($c, undef, method => 'DELETE');
    ok t_cmp($code, 200, 'DELETE: 200');
    ok t_cmp($j && $j->{subscribers}, 3, 'JSON: the subscribers closed');
    my @r = map { $_->read_until_close(timeout => 5, reply => 1) } @s;
    ok t_cmp(join(',', map { ($_->{code} // '-') . " " . ($_->{reason} // '') } @r),
             join(',', ('1000 channel deleted') x 3), 'each closed 1000 "channel deleted"');
    my (undef, $i) = info($c);
    ok t_cmp($i && $i->{messages}, 0, 'history dropped');
    my ($c404) = publish(ch('nope'), undef, method => 'DELETE');
    ok t_cmp($c404, 404, 'DELETE of an unknown channel: 404');
});

# ---- slow subscribers ---------------------------------------------------
sub flood {
    my ($c, $n) = @_;
    my $body = 'q' x 60000;
    publish($c, sprintf('%05d', $_) . $body) for 1 .. $n;
}

case(4, 'a subscriber that does not read is closed; others get all', sub {
    my $c = ch('slow');
    my $slow = subscribe("/slowsub/$c");
    my @ok = map { subscribe("/sub/$c") } 1 .. 3;
    my $t0 = time;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) { flood($c, 300); require POSIX; POSIX::_exit(0); }
    my @n = map { scalar frames($_, 300, 10) } @ok;
    waitpid $pid, 0;
    ok t_cmp("@n", '300 300 300', 'the reading subscribers got every message');
    ok t_cmp(time - $t0 < 30 ? 'prompt' : time - $t0, 'prompt', 'promptly');
    my $r = $slow->read_until_close(timeout => 10);
    ok t_cmp($r->{code}, 1008, 'the one that did not read: 1008');
    ok t_cmp($r->{reason}, 'slow', 'reason "slow"');
    done($slow, @ok);
});

# A publisher must never wait for a subscriber: with one that reads
# nothing (and stays, under drop) the POSTs are answered as fast as
# without it, and the readers next to it get every message.
case(3, 'publishers never wait for a subscriber that does not read', sub {
    my $F = WSMem::slow_factor();
    my $ua = Apache::TestRequest::user_agent(keep_alive => 1);
    my $body = 'w' x 20000;
    my $timed = sub {
        my ($c, $n) = @_;
        my @t;
        for (1 .. $n) {
            my $url = Apache::TestRequest::resolve_url("/pub/$c");
            my $t0 = time;
            my $res = $ua->post($url, 'Content-Type' => 'text/plain',
                                Content => sprintf('%04d', $_) . $body);
            push @t, time - $t0;
            die 'publish: ' . $res->code unless $res->code =~ /^20[12]$/;
        }
        (sort { $a <=> $b } @t)[$n / 2, $n - 1];
    };
    my $c0 = ch('calm');
    my @r0 = map { subscribe("/sub/$c0") } 1 .. 3;
    my ($base) = $timed->($c0, 100);
    my $c = ch('stuck');
    my $stuck = subscribe("/dropsub/$c");
    my @readers = map { subscribe("/sub/$c") } 1 .. 3;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        # the readers read in another process while this one publishes
        my @n = map { scalar frames($_, 200, 10 * $F) } @readers;
        require POSIX;
        POSIX::_exit("@n" eq '200 200 200' ? 0 : 1);
    }
    my ($median, $max) = $timed->($c, 200);
    waitpid $pid, 0;
    printf "# publish latency: median %.1f ms, max %.1f ms; calm channel "
        . "median %.1f ms\n", 1000 * $median, 1000 * $max, 1000 * $base;
    ok t_cmp($? >> 8, 0, 'the readers got all 200 messages (4 MB)');
    ok t_cmp($max < 1 * $F ? 'prompt' : sprintf('%.3f s', $max), 'prompt',
             'no publish waited for the subscriber that does not read');
    ok t_cmp($median <= 3 * $base + 0.02 ? 'unchanged'
             : sprintf('median %.1f ms, %.1f ms without it', 1000 * $median,
                       1000 * $base), 'unchanged',
             'the publishers\' median latency is that of a calm channel');
    frames($_, 100, 5) for @r0;
    done(@r0, $stuck, @readers);
});

case(4, 'WebSocketSlowSubscriber drop: skipped, each skip announced', sub {
    my $c = ch('drop');
    my $slow = subscribe("/dropsub/$c", protocols => 'channel-meta');
    flood($c, 300);
    my @p = payloads(frames($slow, 300, 3));
    publish($c, 'after');
    while (my ($f) = frames($slow, 1, 5)) {
        push @p, $f->{payload};
        last if $f->{payload} =~ /\n\nafter\z/;
    }
    # a gap notice must sit exactly where messages are missing, naming
    # the last id received and the next one to come
    my ($msgs, $gaps, $bad, $prev, $expect) = (0, 0, 0);
    for my $p (@p) {
        if ($p =~ /^gap: \Q$c\E\nlast_id: (\d+:\d+)\nnext_id: (\d+:\d+)\n\n\z/) {
            $gaps++;
            $bad++ if defined $prev && $1 ne $prev;
            $expect = $2;
            next;
        }
        my ($id) = meta_id($p);
        $msgs++;
        if (!defined $id) {
            $bad++;
        }
        elsif (defined $expect) {
            $bad++ if $id ne $expect;
            undef $expect;
        }
        elsif (defined $prev) {
            my ($e1, $s1) = split /:/, $prev;
            my ($e2, $s2) = split /:/, $id;
            $bad++ if $e1 ne $e2 || $s2 != $s1 + 1;
        }
        $prev = $id if defined $id;
    }
    ok t_cmp($msgs < 301 ? 'skipped' : 'all', 'skipped',
             'some messages were skipped');
    ok t_cmp($gaps >= 1 ? 'notice' : 'none', 'notice', 'a gap notice came');
    ok t_cmp($bad, 0, 'every skip announced where it happened, none silent');
    ok t_cmp((meta_id($p[-1] // ''))[2], 'after', 'the newest message arrived');
    done($slow);
});

# ---- history by age, and across a graceful restart ------------------------
case(2, 'history by age: dropped after its seconds', sub {
    my $c = ch('age');
    publish($c, "a$_", path => '/pub-age') for 1 .. 2;
    my (undef, $i) = info($c);
    ok t_cmp($i && $i->{messages}, 2, 'retained at first');
    sleep 2.5;
    (undef, $i) = info($c);
    ok t_cmp($i && $i->{messages}, 0, 'gone after WebSocketChannelHistory 16 1');
});

# a child killed (as by a crash) releases nothing itself; a living
# child's delivery thread frees its slot, whether or not a new child comes
case(5, 'a child that dies: its subscriptions stop counting', sub {
    my $c = ch('dead');
    publish($c, 'kept');                   # history keeps the channel
    my $ws = subscribe("/sub/$c");
    my (undef, $i) = info($c);
    ok t_cmp($i && $i->{subscribers}, 1, 'counted while its child lives');
    my $pid = WSMem::child_of($ws->sock);
    my $mark = log_mark();
    ok $pid && kill('KILL', $pid);
    my ($n, $t0) = ('no answer', time);
    while (time - $t0 < 10) {
        my (undef, $j) = info($c);
        $n = $j ? $j->{subscribers} : 'no answer';
        last if $n eq '0';
        sleep 0.2;
    }
    printf "# killed child %s; subscribers %s after %.1f s\n",
        $pid // '?', $n, time - $t0;
    ok t_cmp($n, 0, 'no longer counted (within 10 s)');
    my ($code, $j) = publish($c, 'after');
    ok t_cmp($code, 202, 'a publish finds no subscriber: 202');
    # (logged right after the count is cleared)
    ok t_cmp(wait_log($mark,
                      qr/WS00703: channels: 1 subscriptions of a child/, 5),
             qr/WS00703: channels: 1 subscriptions of a child that died/,
             'the error log says what was removed');
    done($ws);
});

case(6, 'a graceful restart keeps channels, history and ids', sub {
    my $c = ch('restart');
    my @ids = map { (publish($c, "r$_"))[1]{id} } 1 .. 3;
    my $old = subscribe("/sub/$c");
    my $pidfile = Apache::Test::vars()->{t_logs} . '/httpd.pid';
    open my $fh, '<', $pidfile or die "$pidfile: $!";
    chomp(my $parent = <$fh>);
    close $fh;
    my $mark = log_mark();
    kill 'USR1', $parent;
    my $r = $old->read_until_close(timeout => 10, reply => 1);
    ok t_cmp($r->{code}, 1001, 'the old generation\'s subscriber: 1001');
    ok wait_log($mark, qr/resuming normal operations/, 10);
    my (undef, $i) = info($c);
    ok t_cmp($i && "$i->{messages} $i->{last_id}", "3 $ids[2]",
             'history and the last id survived');
    my $ws = subscribe("/sub/$c?last_id=$ids[0]", protocols => 'channel-meta');
    ok t_cmp(join('|', map { (meta_id($_))[0] } payloads(frames($ws, 2))),
             "$ids[1]|$ids[2]", 'resume across the restart');
    my (undef, $j) = publish($c, 'r4');
    my ($e, $s) = split /:/, $ids[2];
    ok t_cmp($j && $j->{id}, "$e:" . ($s + 1), 'ids go on in the same epoch');
    my ($f) = frames($ws, 1);
    ok t_cmp($f && (meta_id($f->{payload}))[2], 'r4',
             'the new generation delivers');
    done($ws);
});

# last: reclaiming memory for it evicts idle channels
case(2, 'memory full: 507 with JSON', sub {
    my ($code, $j) = publish(ch('big'), 'z' x (17 * 1024 * 1024),
                             path => '/pub-big');
    ok t_cmp($code, 507, 'a message larger than the region: 507');
    ok t_cmp($j && $j->{error}, qr/memory/, '507 with a JSON body');
});

plan tests => ncases(), need_module 'mod_websocket.c';
run_cases();
