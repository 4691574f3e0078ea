# Per-invocation options of awslambda_invoke_async (0.5.0), counted where
# they arrive, at the mock: an invocation with run_at is not sent before
# then and is sent once after, also when its transaction commits (or is
# prepared and committed) after the dispatcher's claims went past its time,
# and one due much later holds nothing back; max_attempts overrides the
# server's limit; a dedup key debounces (the last payload is sent once,
# 'keep': the first), two sessions queuing one key at once make one
# invocation, a replace rolled back while its row was due leaves it to be
# sent as it was, and another role's key is another invocation.  As a
# non-superuser who owns its database.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use AwlTap;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $node = awl_node('options', max_prepared_transactions => 2);
awl_reset_mock($node);
$node->safe_psql('postgres', q{
	CREATE ROLE app LOGIN;
	CREATE ROLE other LOGIN;
	CREATE DATABASE appdb OWNER app;
});
$node->safe_psql('appdb', q{
	CREATE EXTENSION awslambda;
	GRANT EXECUTE ON FUNCTION awslambda_invoke_async(text, jsonb, text, text, text, text, text, text, boolean,
	                                                 timestamptz, integer, text, text) TO app, other;
	GRANT EXECUTE ON FUNCTION awslambda_fn_async(text, text) TO app, other;
});

sub as_role
{
	my ($role, $sql) = @_;
	return $node->safe_psql('appdb', $sql, extra_params => [ '-U', $role ]);
}

# A psql session kept open as a role, and a statement run in it (returns
# at once with $nowait: the statement may block).
sub session
{
	my ($role) = @_;
	my ($in, $out) = ('', '');
	my $h = IPC::Run::start([ 'psql', '-X', '-qAt', '-U', $role, '-d', $node->connstr('appdb') ],
		'<', \$in, '>', \$out, '2>&1', IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return { h => $h, in => \$in, out => \$out, n => 0 };
}

sub send_in
{
	my ($s, $sql) = @_;
	my $marker = 'done-' . ++$s->{n};
	$sql .= ';' unless $sql =~ /;\s*$/;
	${ $s->{in} } .= "$sql\nSELECT '$marker';\n";
	$s->{h}->pump_nb;
	return $marker;
}

sub wait_in
{
	my ($s, $marker) = @_;
	eval { $s->{h}->pump until ${ $s->{out} } =~ /^$marker$/m; 1 }
	  or die "psql session: $@ after: ${ $s->{out} }";
	my ($result) = ${ $s->{out} } =~ /(.*)^$marker$/ms;
	${ $s->{out} } = '';
	chomp $result if defined $result;
	return $result;
}

sub run_in { my ($s, $sql) = @_; return wait_in($s, send_in($s, $sql)); }

# Payloads (request bodies) that reached $fn and match $re.
sub arrivals
{
	my ($fn, $re) = @_;
	return scalar(grep { /$re/ } @{ awl_accepted($node, $fn, 1)->{payloads} // [] });
}

# Until $sql is true in appdb, at most $seconds (poll_query_until waits minutes).
sub soon
{
	my ($sql, $seconds) = @_;
	my $until = time + $seconds;
	while (time < $until)
	{
		return 1 if $node->safe_psql('appdb', $sql) eq 't';
		sleep(0.1);
	}
	return 0;
}

# Keeps the dispatcher claiming (fresh invocations) for $seconds.
sub traffic
{
	my ($seconds, $tag) = @_;
	my $until = time + $seconds;
	my $n = 0;
	while (time < $until)
	{
		as_role('app', "SELECT awslambda_fn_async('lambdaTest', '{\"traffic\": \"$tag-" . $n++ . "\"}')");
		sleep(0.2);
	}
}

# ---------------------------------------------------------------------------
# 1. run_at: not before, once after; a far one holds nothing back.
# ---------------------------------------------------------------------------
my $t0 = time;
my $later = as_role('app', q{
	SELECT awslambda_invoke_async('lambdaTest', '{"later": 1}', run_at => clock_timestamp() + interval '4 s')});
my $far = as_role('app', q{
	SELECT awslambda_invoke_async('lambdaTest', '{"far": 1}', run_at => clock_timestamp() + interval '1 hour')});
as_role('app', q{SELECT count(awslambda_fn_async('lambdaTest', json_build_object('behind', g)::text)) FROM generate_series(1, 10) g});
ok(soon(q{SELECT count(*) = 10 FROM awslambda_invocations WHERE payload LIKE '%behind%' AND status = 'sent'}, 3),
	'invocations queued after two due later are sent at once');
sleep(2.5 - (time - $t0)) if time - $t0 < 2.5;
is(arrivals('lambdaTest', qr/"later"/), 0, 'the one due in 4 s has not arrived after 2.5 s');
ok(soon("SELECT status = 'sent' FROM awslambda_invocation('$later')", 10), 'it is sent when due');
is(arrivals('lambdaTest', qr/"later"/), 1, 'and arrived once');
is($node->safe_psql('appdb', "SELECT last_attempt_at >= next_attempt_at FROM awslambda_invocation('$later')"),
	't', 'not before its run_at');
is($node->safe_psql('appdb', "SELECT status FROM awslambda_invocation('$far')"), 'queued',
	'the one due in an hour is still queued');
is(arrivals('lambdaTest', qr/"far"/), 0, 'and has not arrived');

# Queued for 1 s from now in a transaction that commits 4 s later, while the
# dispatcher claims other invocations: its time passed before it was visible.
my $s = session('app');
run_in($s, 'BEGIN');
my $late = run_in($s, q{SELECT awslambda_invoke_async('lambdaTest', '{"late_commit": 1}', run_at => clock_timestamp() + interval '1 s')});
traffic(4, 'a');
run_in($s, 'COMMIT');
ok(soon("SELECT status = 'sent' FROM awslambda_invocation('$late')", 5),
	'an invocation whose run_at passed before its transaction committed is sent at once');
is(arrivals('lambdaTest', qr/"late_commit"/), 1, 'once');

# The same for a prepared transaction, committed later.
$node->safe_psql('appdb', q{
	BEGIN;
	SELECT awslambda_invoke_async('lambdaTest', '{"prepared": 1}', run_at => clock_timestamp() + interval '1 s');
	PREPARE TRANSACTION 'opt';});
traffic(3, 'b');
$node->safe_psql('appdb', q{COMMIT PREPARED 'opt'});
ok(soon(q{SELECT status = 'sent' FROM awslambda_invocations WHERE payload LIKE '%"prepared"%'}, 5),
	'and one of a prepared transaction committed after its run_at');
is(arrivals('lambdaTest', qr/"prepared"/), 1, 'once');

# ---------------------------------------------------------------------------
# 2. max_attempts: 1 fails after one attempt while the server allows 10.
# ---------------------------------------------------------------------------
is($node->safe_psql('appdb', 'SHOW awslambda.async_max_attempts'), '10', 'the server allows 10 attempts');
my $fail = '{"n": "tap-once", "times": 5, "status": 503, "code": "ServiceUnavailableException"}';
my $once = as_role('app', "SELECT awslambda_invoke_async('mockStatus', '$fail', 'RequestResponse', max_attempts => 1)");
my $retry = '{"n": "tap-thrice", "times": 2, "status": 503, "code": "ServiceUnavailableException"}';
my $thrice = as_role('app', "SELECT awslambda_invoke_async('mockStatus', '$retry', 'RequestResponse', max_attempts => 3)");
ok(soon("SELECT count(*) = 2 FROM awslambda_invocations WHERE id IN ('$once', '$thrice') AND finished_at IS NOT NULL", 20),
	'both finished');
is($node->safe_psql('appdb', "SELECT status || ' ' || attempts || ' ' || http_status FROM awslambda_invocation('$once')"),
	'failed 1 503', 'max_attempts => 1: failed after one attempt');
# (mockStatus counts the arrivals of each "n"; with "times" 1 the next one is answered.)
(my $probe = $fail) =~ s/"times": 5/"times": 1/;
like($node->safe_psql('appdb', "SELECT awslambda_fn('mockStatus', '$probe')"), qr/"attempt": 2/,
	'the mock had seen it once');
is($node->safe_psql('appdb', "SELECT status || ' ' || attempts || ' ' || (response->>'attempt') FROM awslambda_invocation('$thrice')"),
	'succeeded 3 3', 'max_attempts => 3: the third attempt got through');

# ---------------------------------------------------------------------------
# 3. Debounce: a trigger on a row updated 20 times queues with the row's key.
# ---------------------------------------------------------------------------
as_role('app', q{
	CREATE TABLE reading (id int PRIMARY KEY, v int);
	CREATE FUNCTION reading_changed() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
	    PERFORM awslambda_invoke_async(TG_ARGV[0], jsonb_build_object('id', NEW.id, 'v', NEW.v),
	                                   dedup_key => 'reading-' || NEW.id, dedup_mode => TG_ARGV[1],
	                                   run_at => clock_timestamp() + interval '3 s');
	    RETURN NEW;
	END $$;
	CREATE TRIGGER debounce AFTER UPDATE ON reading FOR EACH ROW WHEN (NEW.id = 1)
	    EXECUTE FUNCTION reading_changed('lambdaTest', 'replace');
	CREATE TRIGGER first_only AFTER UPDATE ON reading FOR EACH ROW WHEN (NEW.id = 2)
	    EXECUTE FUNCTION reading_changed('lambdaEcho', 'keep');
	INSERT INTO reading VALUES (1, 0), (2, 0);
});
for my $v (1 .. 20)
{
	as_role('app', "UPDATE reading SET v = $v");
}
is($node->safe_psql('appdb', q{SELECT count(*) FROM awslambda_invocations WHERE dedup_key LIKE 'reading-%'}),
	'2', 'twenty updates of two rows queued two invocations');
ok(soon(q{SELECT count(*) = 2 FROM awslambda_invocations WHERE dedup_key LIKE 'reading-%' AND status = 'sent'}, 10),
	'both were sent');
my $got = awl_accepted($node, 'lambdaTest', 1);
is(scalar(grep { /"id": 1\}/ } @{ $got->{payloads} }), 1, 'replace: the row\'s invocation arrived once');
is(scalar(grep { /^\{"v": 20, "id": 1\}$/ } @{ $got->{payloads} }), 1, 'with the last payload');
my $echo = awl_accepted($node, 'lambdaEcho', 1);
is(scalar(grep { /"id": 2\}/ } @{ $echo->{payloads} }), 1, 'keep: the row\'s invocation arrived once');
is(scalar(grep { /^\{"v": 1, "id": 2\}$/ } @{ $echo->{payloads} }), 1, 'with the first payload');

# ---------------------------------------------------------------------------
# 4. Two sessions queue one key at once: one invocation, the later payload.
# ---------------------------------------------------------------------------
my $a = session('app');
my $b = session('app');
run_in($a, 'BEGIN');
my $ida = run_in($a, q{SELECT awslambda_invoke_async('lambdaTest', '{"concurrent": "a"}', dedup_key => 'same',
                                                     run_at => clock_timestamp() + interval '4 s')});
my $pending_b = send_in($b, q{SELECT awslambda_invoke_async('lambdaTest', '{"concurrent": "b"}', dedup_key => 'same',
                                                            run_at => clock_timestamp() + interval '4 s')});
ok($node->poll_query_until('appdb', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE usename = 'app' AND wait_event_type = 'Lock' AND query LIKE '%concurrent%'}),
	'the second session waits for the first');
run_in($a, 'COMMIT');
my $idb = wait_in($b, $pending_b);
is($idb, $ida, 'and then replaces its invocation: the same id');
ok(soon("SELECT status = 'sent' FROM awslambda_invocation('$ida')", 10), 'which is sent');
is(arrivals('lambdaTest', qr/"concurrent"/), 1, 'one invocation arrived');
is(arrivals('lambdaTest', qr/"concurrent": "b"/), 1, 'with the second session\'s payload');

# ---------------------------------------------------------------------------
# 5. A replace rolled back while its row was due: a claim passed the locked
#    row; it is sent, as it was, once the replacing transaction has ended.
# ---------------------------------------------------------------------------
my $due = as_role('app', q{SELECT awslambda_invoke_async('lambdaTest', '{"locked": "original"}', dedup_key => 'locked',
                                                         run_at => clock_timestamp() + interval '2 s')});
run_in($a, 'BEGIN');
is(run_in($a, q{SELECT awslambda_invoke_async('lambdaTest', '{"locked": "rolled back"}', dedup_key => 'locked',
                                              run_at => clock_timestamp() + interval '2 s')}),
	$due, 'a replace holds the row');
traffic(4, 'c');
is($node->safe_psql('appdb', "SELECT status FROM awslambda_invocation('$due')"), 'queued',
	'which stays queued past its time while held');
run_in($a, 'ROLLBACK');
ok(soon("SELECT status = 'sent' FROM awslambda_invocation('$due')", 5), 'after the rollback it is sent');
is(arrivals('lambdaTest', qr/"locked"/), 1, 'once');
is(arrivals('lambdaTest', qr/"locked": "original"/), 1, 'as it was');

# ---------------------------------------------------------------------------
# 6. Roles: another role's key is another invocation; nothing is seen or
#    replaced across roles, and the database owner gets no more.
# ---------------------------------------------------------------------------
my $mine = as_role('app', q{SELECT awslambda_invoke_async('lambdaEcho', '{"role": "app"}', dedup_key => 'k',
                                                          run_at => clock_timestamp() + interval '2 s')});
my $theirs = as_role('other', q{SELECT awslambda_invoke_async('lambdaEcho', '{"role": "other"}', dedup_key => 'k',
                                                              run_at => clock_timestamp() + interval '2 s')});
isnt($theirs, $mine, 'the same key of another role is another invocation');
is(as_role('other', q{SELECT awslambda_invoke_async('lambdaEcho', '{"role": "other, kept"}', dedup_key => 'k', dedup_mode => 'keep')}),
	$theirs, 'and a role\'s own key finds its own');
is(as_role('other', q{SELECT count(*) FROM awslambda_invocations WHERE dedup_key = 'k'}), '1',
	'a role sees only its own');
my ($rc, $out, $err) = $node->psql('appdb', "UPDATE awslambda_invocations_pending SET payload = '{}' WHERE id = '$theirs'",
	extra_params => [ '-U', 'app' ]);
like($err, qr/permission denied for table awslambda_invocations_pending/, 'the database owner cannot change the pending table');
($rc, $out, $err) = $node->psql('appdb', "UPDATE awslambda_invocations SET payload = '{}' WHERE id = '$theirs'",
	extra_params => [ '-U', 'app' ]);
like($err, qr/permission denied for table awslambda_invocations/, 'nor the queue table');
($rc, $out, $err) = $node->psql('appdb', q{ALTER DATABASE appdb SET awslambda.allowed_functions = ''},
	extra_params => [ '-U', 'app' ]);
like($err, qr/permission denied to set parameter "awslambda.allowed_functions"/, 'nor awslambda.allowed_functions');
ok(soon("SELECT count(*) = 2 FROM awslambda_invocations WHERE id IN ('$mine', '$theirs') AND status = 'sent'", 10),
	'both are sent');
is(arrivals('lambdaEcho', qr/"role": "app"/), 1, 'the first role\'s once');
is(arrivals('lambdaEcho', qr/"role": "other"/), 1, 'the other role\'s once, as it was queued');
is($node->safe_psql('postgres', "SELECT rolsuper FROM pg_roles WHERE rolname = 'app'"), 'f', 'app is still no superuser');

$_->{h}->finish for ($s, $a, $b);
$node->stop;
done_testing();
