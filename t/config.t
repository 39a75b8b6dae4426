# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# Configuration (SPEC.md section 2) and plugin loading (section 1):
#  - config errors: a private "httpd -t" on small generated configs must
#    fail and name the directive / path / symbol;
#  - startup warnings (httpd -t, and the error_log of a real start): a
#    WebSocketHandler no SetHandler reaches, MaxSpareThreads below
#    MaxRequestWorkers under the asynchronous driver;
#  - one load per DSO+symbol per configuration pass;
#  - the running server: no plugin -> 500, nested merge, size limits and the
#    deprecated alias, reserved status codes, .htaccess.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Copy qw(copy);
use Apache::Test qw(plan ok skip need_module);
use Apache::TestUtil qw(t_cmp);
use WSClient;
use WSTest qw(case ncases run_cases log_mark log_since wait_log httpd_t
              httpd_start_stop tempdir);

my $vars  = Apache::Test::vars();
my $bad   = $vars->{ws_test_bad_so};
my $echo  = $vars->{ws_echo_so};

sub loc {
    my $body = join "\n", @_;
    "<Location /ws>\n    SetHandler websocket-handler\n$body\n</Location>\n";
}

sub handler_line { "    WebSocketHandler \"$_[0]\" $_[1]" }

# ---- httpd -t: must refuse to start ----------------------------------------
# "bad values are config errors that name the directive and the accepted
# form": for a size, that it is a number (of bytes) greater than 0
my $size_form = qr/greater than 0|> ?0|positive|at least 1/i;
my @refuse = (
    ['missing DSO', loc(handler_line('/nonexistent/dir/nope.so', 'echo_init')),
     [qr{/nonexistent/dir/nope\.so}, qr/echo_init/,
      qr/No such file or directory|cannot open shared object/]],
    ['missing symbol', loc(handler_line($bad, 'nosuch_init')),
     [qr/\Q$bad\E/, qr/nosuch_init/, qr/undefined symbol/]],
    map({ ["init $_", loc(handler_line($bad, $_)), [qr/\Q$bad\E/, qr/\b$_\b/]] }
        qw(null_init badversion_init small_init nomessage_init)),
    ['WebSocketHandler with one argument', loc("    WebSocketHandler \"$echo\""),
     [qr/WebSocketHandler/]],
    map({ ["WebSocketMaxMessageSize $_",
           loc(handler_line($echo, 'echo_init'), "    WebSocketMaxMessageSize $_"),
           [qr/WebSocketMaxMessageSize/, $size_form]] }
        '0', '-1', 'abc', '1.5', '10k', '99999999999999999999999'),
    ['MaxMessageSize 0',
     loc(handler_line($echo, 'echo_init'), '    MaxMessageSize 0'),
     [qr/MaxMessageSize/, $size_form]],
    ['WebSocketOriginCheck Bogus',
     loc(handler_line($echo, 'echo_init'), '    WebSocketOriginCheck Bogus'),
     [qr/WebSocketOriginCheck/, qr/Same/i, qr/Trusted/i, qr/Off/i]],
    ['WebSocketTrustedOrigin without argument',
     loc(handler_line($echo, 'echo_init'), '    WebSocketTrustedOrigin'),
     [qr/WebSocketTrustedOrigin/]],
    ['WebSocketAllowReservedStatusCodes maybe',
     loc(handler_line($echo, 'echo_init'),
         '    WebSocketAllowReservedStatusCodes maybe'),
     [qr/WebSocketAllowReservedStatusCodes/, qr/\bOn\b/i, qr/\bOff\b/i]],
    ['WebSocketPluginOption with one argument',
     loc(handler_line($echo, 'echo_init'), '    WebSocketPluginOption greeting'),
     [qr/WebSocketPluginOption/]],
    ['relative DSO path that does not exist under ServerRoot',
     loc(handler_line('lib/nope.so', 'echo_init')),
     [qr{lib/nope\.so}, qr/echo_init/]],
);
for my $r (@refuse) {
    my ($name, $body, $res) = @$r;
    case(1 + @$res, "httpd -t refuses: $name", sub {
        my ($exit, $out) = httpd_t(body => $body);
        ok t_cmp($exit != 0 ? 'refused' : "exit $exit: $out", 'refused',
                 "$name: httpd -t fails");
        for my $re (@$res) {
            ok t_cmp($out, $re, "$name: message names $re");
        }
    });
}

# ---- httpd -t: accepted ----------------------------------------------------------
my @accept = (
    ['WebSocketOriginCheck same/TRUSTED/oFf',
     "<Location /a>\n WebSocketOriginCheck same\n</Location>\n"
     . "<Location /b>\n WebSocketOriginCheck TRUSTED\n"
     . " WebSocketTrustedOrigin http://a.example http://b.example\n"
     . " WebSocketTrustedOrigin https://c.example:8443\n</Location>\n"
     . "<Location /c>\n WebSocketOriginCheck oFf\n</Location>\n"],
    ['WebSocketMaxMessageSize 1 and 33554432',
     "<Location /a>\n WebSocketMaxMessageSize 1\n</Location>\n"
     . "<Location /b>\n WebSocketMaxMessageSize 33554432\n</Location>\n"],
    ['WebSocketAllowReservedStatusCodes On/off',
     "<Location /a>\n WebSocketAllowReservedStatusCodes On\n</Location>\n"
     . "<Location /b>\n WebSocketAllowReservedStatusCodes off\n</Location>\n"],
    ['big_init and minimal_init', loc(handler_line($bad, 'big_init'))
     . "<Location /m>\n" . handler_line($bad, 'minimal_init') . "\n</Location>\n"],
    ['directives in <Directory> and <Files>',
     "<Directory /tmp>\n SetHandler websocket-handler\n"
     . handler_line($echo, 'echo_init') . "\n WebSocketMaxMessageSize 100\n"
     . "</Directory>\n<Files ws.sock>\n SetHandler websocket-handler\n"
     . handler_line($echo, 'echo_init') . "\n WebSocketOriginCheck Off\n"
     . "</Files>\n"],
);
for my $a (@accept) {
    my ($name, $body) = @$a;
    case(1, "httpd -t accepts: $name", sub {
        my ($exit, $out) = httpd_t(body => $body);
        ok t_cmp("exit $exit", 'exit 0', "$name: Syntax OK ($out)");
    });
}
case(3, 'MaxMessageSize: deprecated alias', sub {
    my ($exit, $out) = httpd_t(body => loc(handler_line($echo, 'echo_init'),
                                           '    MaxMessageSize 100'));
    ok t_cmp("exit $exit", 'exit 0', 'MaxMessageSize accepted');
    ok t_cmp($out, qr/MaxMessageSize/, 'MaxMessageSize: warning names it');
    ok t_cmp($out, qr/:warn\][^\n]*MaxMessageSize is deprecated/,
             'MaxMessageSize: logged as a warning');
});
case(3, 'relative plugin path is resolved against ServerRoot', sub {
    my $root = tempdir();
    mkdir "$root/lib" or die "$root/lib: $!";
    copy($bad, "$root/lib/plugin.so") or die "copy: $!";
    my ($exit, $out) = httpd_t(root => $root, cwd => '/',
        body => loc(handler_line('lib/plugin.so', 'counting_init')));
    ok t_cmp("exit $exit", 'exit 0', 'relative path: Syntax OK');
    my $n = () = $out =~ /^ws_test_bad: init$/mg;
    ok t_cmp($n, 1, 'relative path: plugin loaded and initialised');
    # the same relative path seen from another ServerRoot does not exist
    my ($exit2) = httpd_t(cwd => $root,
        body => loc(handler_line('lib/plugin.so', 'counting_init')));
    ok t_cmp($exit2 != 0 ? 1 : 0, 1, 'relative path: not resolved against cwd');
});
case(2, 'same DSO+symbol in three sections: one init per configuration pass', sub {
    my $h = handler_line($bad, 'counting_init');
    my ($exit, $out) = httpd_t(body =>
        "<Location /a>\n$h\n</Location>\n<Location /b>\n$h\n</Location>\n"
        . "<Directory /tmp>\n$h\n</Directory>\n");
    my $inits = () = $out =~ /^ws_test_bad: init$/mg;
    my $destroys = () = $out =~ /^ws_test_bad: destroy$/mg;
    ok t_cmp($inits, 1, 'httpd -t: counting_init called once');
    ok t_cmp($destroys, 1, 'httpd -t: destroy called once at unload');
});

# ---- startup warnings: a plugin no SetHandler reaches -----------------------
# "httpd -t" and a real start both check; the configuration stays valid
sub sect {
    my ($tag, $path, @lines) = @_;
    "<$tag $path>\n" . join('', map { "    $_\n" } @lines) . "</$tag>\n";
}
my $h  = "WebSocketHandler \"$echo\" echo_init";
my $sh = 'SetHandler websocket-handler';
my $never = qr/WS00601: \S*httpd-t\.conf:\d+: /
            . qr/WebSocketHandler in <Location \/chat> is never used/;
my @never = (
    # name, config, whether WS00601 is expected, extra modules
    ['WebSocketHandler without SetHandler', sect('Location', '/chat', $h), 1],
    ['SetHandler none beside it',
     sect('Location', '/chat', 'SetHandler none', $h), 1],
    ['SetHandler websocket-handler only for another path',
     sect('Location', '/other', $sh) . sect('Location', '/chat', $h), 1],
    ['SetHandler websocket-handler only in another virtual host',
     "<VirtualHost *:1>\nServerName a\n" . sect('Location', '/chat', $sh)
     . "</VirtualHost>\n<VirtualHost *:1>\nServerName b\n"
     . sect('Location', '/chat', $h) . "</VirtualHost>\n", 1],
    ['SetHandler websocket-handler in the same section',
     sect('Location', '/chat', $sh, $h), 0],
    ['SetHandler in an enclosing <Location />',
     sect('Location', '/', $sh) . sect('Location', '/chat', $h), 0],
    ['SetHandler in a <LocationMatch>',
     "<LocationMatch ^/c>\n    $sh\n</LocationMatch>\n"
     . sect('Location', '/chat', $h), 0],
    ['SetHandler in a sub-location', sect('Location', '/chat/room', $sh)
     . sect('Location', '/chat', $h), 0],
    ['SetHandler of the main server, plugin in a virtual host',
     sect('Location', '/chat', $sh) . "<VirtualHost *:1>\n"
     . sect('Location', '/chat', $h) . "</VirtualHost>\n", 0],
    ['SetHandler as an expression',
     sect('Location', '/chat', 'SetHandler "expr=websocket-handler"', $h), 0],
    ['SetHandler in a <Directory> (cannot tell which paths)',
     sect('Directory', '/srv', $sh) . sect('Location', '/chat', $h), 0],
    ['AddHandler websocket-handler in the same section',
     sect('Directory', '/srv', 'AddHandler websocket-handler .ws', $h), 0,
     ['mime']],
);
for my $n (@never) {
    my ($name, $body, $want, $mods) = @$n;
    case(2, "startup check: $name", sub {
        my ($exit, $out) = httpd_t(body => $body, modules => $mods || []);
        ok(t_cmp("exit $exit", 'exit 0', "$name: still Syntax OK"))
            or print map { "# $_\n" } split /\n/, $out;
        # expected: the one for <Location /chat>; else none at all
        my $re = $want ? $never : qr/WS00601/;
        my $count = () = $out =~ /$re/g;
        ok t_cmp($count, $want, "$name: WS00601 " . ($want ? 'once' : 'not')
                 . ' on httpd -t');
    });
}
case(3, 'startup check: the warning names the file and line', sub {
    my ($exit, $out) = httpd_t(body => "# line 1 of the body\n"
                                       . sect('Location', '/chat', $h));
    my ($line) = $out =~ /WS00601: \S*httpd-t\.conf:(\d+): /;
    my $conf = do {
        open my $fh, '<', (($out =~ /WS00601: (\S*httpd-t\.conf):/)[0] // '')
            or die "no config file named: $out";
        local $/; <$fh>;
    };
    my @lines = split /\n/, $conf;
    ok t_cmp(defined $line ? $lines[$line - 1] : 'no line',
             qr/^\s*WebSocketHandler /, 'WS00601 names the line of '
             . 'WebSocketHandler');
    ok t_cmp($out, qr/\[websocket:warn\][^\n]*WS00601/,
             'WS00601 is a warning of the websocket module');
    ok t_cmp($out, qr/WS00601: [^\n]*SetHandler websocket-handler/,
             'WS00601 says what to add');
});

# ---- startup warnings: MaxSpareThreads under the asynchronous driver -------
sub mpm_conf {
    my ($spare, $workers, $min) = @_;
    "ThreadsPerChild 25\nMaxRequestWorkers $workers\n"
    . "MinSpareThreads $min\nMaxSpareThreads $spare\n";
}
my $ws = sect('Location', '/ws', $sh, $h);
my $spare = qr/WS00602: MaxSpareThreads (\d+) is below /
            . qr/MaxRequestWorkers (\d+)/;
my @spare = (
    # name, config, expected (MaxSpareThreads, MaxRequestWorkers) or undef,
    # MPM
    ['Auto (default), MaxSpareThreads 75 of 150',
     mpm_conf(75, 150, 25) . $ws, [75, 150]],
    ["httpd's own defaults (250 of 400)", $ws, [250, 400]],
    ['WebSocketDriver Async', mpm_conf(75, 150, 25)
     . sect('Location', '/ws', $sh, $h, 'WebSocketDriver Async'), [75, 150]],
    ['Blocking only for a sub-location', mpm_conf(75, 150, 25)
     . sect('Location', '/ws/x', 'WebSocketDriver Blocking') . $ws,
     [75, 150]],
    ['MaxSpareThreads = MaxRequestWorkers', mpm_conf(150, 150, 25) . $ws,
     undef],
    ['MaxSpareThreads above MaxRequestWorkers', mpm_conf(300, 150, 25) . $ws,
     undef],
    # the event MPM raises MaxSpareThreads to MinSpareThreads +
    # ThreadsPerChild + 1 = 51 itself: 50 workers can never be too many
    ['MaxSpareThreads raised by the MPM above MaxRequestWorkers',
     mpm_conf(10, 50, 25) . $ws, undef],
    ['WebSocketDriver Blocking on the location', mpm_conf(75, 150, 25)
     . sect('Location', '/ws', $sh, $h, 'WebSocketDriver Blocking'), undef],
    ['WebSocketDriver Blocking in <Location />', mpm_conf(75, 150, 25)
     . sect('Location', '/', 'WebSocketDriver Blocking') . $ws, undef],
    ['no WebSocket location', mpm_conf(75, 150, 25), undef],
    ['only a plugin that never runs', mpm_conf(75, 150, 25)
     . sect('Location', '/chat', $h), undef],
    ['worker MPM (blocking driver only)', mpm_conf(75, 150, 25) . $ws, undef,
     'worker'],
    ['prefork MPM (blocking driver only)', $ws, undef, 'prefork'],
);
for my $c (@spare) {
    my ($name, $body, $want, $mpm) = @$c;
    case(3, "startup check: $name", sub {
        my ($exit, $out) = httpd_t(body => $body, mpm => $mpm);
        ok(t_cmp("exit $exit", 'exit 0', "$name: still Syntax OK"))
            or print map { "# $_\n" } split /\n/, $out;
        my @got = $out =~ /$spare/;
        ok t_cmp(@got ? "@got" : 'no WS00602',
                 $want ? "@$want" : 'no WS00602', "$name: WS00602");
        my $fix = $want ? qr/set MaxSpareThreads $want->[1] /
                        : qr/^(?![\s\S]*WS00602)/;
        ok t_cmp($out, $fix, "$name: " . ($want ? 'says what to set'
                                                : 'no warning at all'));
    });
}

# a real start: both warnings in the error_log, once each (httpd reads
# its configuration twice when it starts)
case(4, 'startup check: warnings in the error_log of a real start', sub {
    my ($err, $log) = httpd_start_stop(
        body => mpm_conf(75, 150, 25) . $ws . sect('Location', '/chat', $h));
    ok t_cmp($err, '', 'private httpd started and stopped');
    my $n1 = () = $log =~ /$never/g;
    my $n2 = () = $log =~ /WS00602: MaxSpareThreads 75 is below/g;
    ok t_cmp($n1, 1, 'WS00601 logged once');
    ok t_cmp($n2, 1, 'WS00602 logged once');
    ok t_cmp($log, qr/\[websocket:warn\][^\n]*WS00602/,
             'WS00602 is a warning of the websocket module');
});

# ---- running server ---------------------------------------------------------------
sub desc {
    my $f = shift;
    $f ? "$f->{opcode}:$f->{payload}" : 'none';
}

sub done {
    my $c = shift;
    return unless $c && $c->status == 101;
    $c->send_close(1000);
    $c->read_until_close(timeout => 5);
}

case(3, 'handler without plugin', sub {
    my $mark = log_mark();
    my $c = WSClient->connect(path => '/noplugin');
    ok t_cmp($c->status, 500, 'no plugin: 500');
    my $log = wait_log($mark, qr/\[websocket:/, 5) // '';
    ok t_cmp($log, qr/\[websocket:(error|crit|alert|emerg)\]/,
             'no plugin: error logged by the module');
    ok t_cmp($log, qr/WebSocketHandler|plugin/i, 'no plugin: the log says why');
});

# size limit: $ok bytes are echoed, $ok+1 fail with $code
sub size_case {
    my ($name, $path, $ok, $code, %args) = @_;
    case(3, $name, sub {
        my $c = WSClient->connect(path => $path, %args);
        ok t_cmp($c->status, 101, "$name: 101");
        $c->send_text('x' x $ok);
        ok t_cmp(desc($c->read_frame), '1:' . ('x' x $ok),
                 "$name: $ok bytes echoed");
        $c->send_text('y' x ($ok + 1));
        my $r = $c->read_until_close;
        ok t_cmp($r->{code}, $code, "$name: " . ($ok + 1) . " bytes -> $code");
    });
}
size_case('WebSocketMaxMessageSize 10', '/size10', 10, 1009);
size_case('WebSocketMaxMessageSize 10, version 8', '/size10', 10, 1004,
          version => 8);
size_case('WebSocketMaxMessageSize 10, version 7', '/size10', 10, 1004,
          version => 7);
size_case('MaxMessageSize 10 (alias)', '/alias10', 10, 1009);
case(2, 'size limit applies to the sum of fragments', sub {
    my $c = WSClient->connect(path => '/size10');
    $c->send_fragments(['aaaaa', 'bbbbb'], opcode => 1);
    ok t_cmp(desc($c->read_frame), '1:aaaaabbbbb', '5+5 fragments: echoed');
    $c->send_fragments(['aaaaaa', 'bbbbb'], opcode => 1);
    my $r = $c->read_until_close;
    ok t_cmp($r->{code}, 1009, '6+5 fragments: 1009');
});
case(2, 'size limit applies to control frames', sub {
    my $c = WSClient->connect(path => '/size10');
    $c->send_ping('p' x 10);
    ok t_cmp(desc($c->read_frame), '10:' . ('p' x 10), 'ping of 10: pong');
    $c->send_ping('p' x 11);
    my $r = $c->read_until_close;
    ok t_cmp($r->{code}, 1009, 'ping of 11: 1009');
});
# reserved status codes
for my $r (['/echo', 1004, 1002, 'Off (default): reserved 1004 refused'],
           ['/reserved-on', 1004, 1004, 'On: reserved 1004 echoed'],
           ['/reserved-on', 2999, 2999, 'On: reserved 2999 echoed'],
           ['/reserved-on', 1005, 1002, 'On: prohibited 1005 still refused'],
           ['/reserved-on', 999, 1002, 'On: prohibited 999 still refused']) {
    my ($path, $send, $want, $name) = @$r;
    case(1, "WebSocketAllowReservedStatusCodes $name", sub {
        my $c = WSClient->connect(path => $path);
        $c->send_close($send);
        my $r = $c->read_until_close;
        ok t_cmp($r->{code}, $want, "AllowReservedStatusCodes $name");
    });
}

# ---- nested sections merge field by field --------------------------------------------
case(3, 'outer section', sub {
    my $c = WSClient->connect(path => '/nest', origin => 'http://a.example');
    ok t_cmp($c->status, 101, '/nest: a.example trusted');
    ok t_cmp($c->header('X-Server-Version'), 2, '/nest: the test plugin');
    $c->send_text('z' x 11);
    ok t_cmp(desc($c->read_frame), '1:' . ('z' x 11), '/nest: default size');
    done($c);
});
size_case('inner section sets only the size: limit 10', '/nest/inner', 10,
          1009, origin => 'http://a.example');
case(3, 'inner section keeps the parent plugin and origin rules', sub {
    my $c = WSClient->connect(path => '/nest/inner', origin => 'http://a.example');
    ok t_cmp($c->header('X-Server-Version'), 2,
             '/nest/inner: plugin of the parent (test plugin)');
    done($c);
    $c = WSClient->connect(path => '/nest/inner', origin => 'http://b.example');
    ok t_cmp($c->status, 403, '/nest/inner: Trusted mode of the parent');
    $c = WSClient->connect(path => '/nest/inner', origin => "http://localhost:$vars->{port}");
    ok t_cmp($c->status, 403, '/nest/inner: same-origin still not trusted');
});
case(3, 'inner WebSocketTrustedOrigin replaces the list', sub {
    my $c = WSClient->connect(path => '/nest/replace', origin => 'http://b.example');
    ok t_cmp($c->status, 101, '/nest/replace: own origin trusted');
    ok t_cmp($c->header('X-Server-Version'), 2, '/nest/replace: parent plugin');
    done($c);
    $c = WSClient->connect(path => '/nest/replace', origin => 'http://a.example');
    ok t_cmp($c->status, 403, "/nest/replace: parent's origin no longer trusted");
});

# ---- .htaccess -------------------------------------------------------------------------
size_case('.htaccess WebSocketMaxMessageSize 10', '/htaccess-size/ws', 10,
          1009);
my @htaccess;
for my $dir ('htaccess-handler', 'htaccess-handler-all') {
    my $file = "$vars->{documentroot}/$dir/.htaccess";
    push @htaccess, $file;
    case(4, "WebSocketHandler in .htaccess ($dir)", sub {
        open my $fh, '>', $file or die "$file: $!";
        print $fh "WebSocketHandler $echo echo_init\n";
        close $fh;
        chmod 0644, $file;
        my $mark = log_mark();
        my $c = WSClient->connect(path => "/$dir/ws");
        ok t_cmp($c->status, 500, ".htaccess WebSocketHandler ($dir): 500");
        ok t_cmp($c->header('X-Server-Version'), undef,
                 ".htaccess ($dir): no plugin ran");
        my $log = wait_log($mark, qr/\.htaccess/, 5) // '';
        ok t_cmp($log, qr/WebSocketHandler/,
                 ".htaccess ($dir): error_log names the directive");
        ok t_cmp($log, qr{\Q$dir\E/\.htaccess},
                 ".htaccess ($dir): error_log names the file");
        done($c);
    });
}

plan tests => ncases(), need_module 'mod_websocket.c';
run_cases();
unlink @htaccess;
