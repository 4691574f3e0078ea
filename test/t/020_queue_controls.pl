# Queue controls (0.5.0): awslambda_pause/resume/paused, awslambda_cancel,
# awslambda_retry/retry_failed, awslambda_queue_stats and
# awslambda.async_failed_retention, as non-superusers in a database one of
# them owns.  The mock counts what arrives: paused invocations are not sent
# until resumed, then once; cancelled ones never; retried ones once more.
# A cancel racing the dispatcher's claim: exactly one of them wins.  A
# cancel rolled back after the dispatcher skipped its locked row: the row is
# sent all the same.  A role neither sees nor steers another role's
# invocations, and PUBLIC may execute none of the controls.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use AwlTap;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = awl_node('controls', max_prepared_transactions => 2);

$node->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN;
	CREATE ROLE bob LOGIN;
	CREATE ROLE carol LOGIN;
	CREATE DATABASE app OWNER alice;
});
$node->safe_psql('app', q{
	CREATE EXTENSION awslambda;
	GRANT EXECUTE ON FUNCTION awslambda_fn_async(text, text), awslambda_retry(uuid),
		awslambda_retry_failed(text, timestamptz), awslambda_cancel(uuid), awslambda_pause(text),
		awslambda_resume(text), awslambda_paused() TO alice, bob;
});

sub as_role
{
	my ($role, $sql) = @_;
	return $node->safe_psql('app', $sql, extra_params => [ '-U', $role ]);
}

# The error of a statement that must fail, as $role.
sub error_of
{
	my ($role, $sql) = @_;
	my ($out, $err) = ('', '');
	my $rc = $node->psql('app', $sql, extra_params => [ '-U', $role ], stdout => \$out, stderr => \$err);
	return $rc == 0 ? "no error: $out" : $err;
}

sub poll
{
	my ($sql) = @_;
	return $node->poll_query_until('app', $sql);
}

sub status_of
{
	my ($id) = @_;
	return $node->safe_psql('app', "SELECT status FROM awslambda_invocations WHERE id = '$id'");
}

# How many payloads reaching $fn at the mock have key $key (with value $value).
sub arrived
{
	my ($fn, $key, $value) = @_;
	my $got = awl_accepted($node, $fn, 1);
	my $re = defined $value ? qr/"$key" ?: ?$value\b/ : qr/"$key"/;
	return scalar(grep { /$re/ } @{ $got->{payloads} });
}

# A psql session kept open, and a statement run in it (as in 019).
sub session
{
	my ($role) = @_;
	my ($in, $out) = ('', '');
	my $h = IPC::Run::start([ 'psql', '-X', '-qAt', '-U', $role, '-d', $node->connstr('app') ],
		'<', \$in, '>', \$out, '2>&1', IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return { h => $h, in => \$in, out => \$out, n => 0 };
}

sub run_in
{
	my ($s, $sql) = @_;
	my $marker = 'done-' . ++$s->{n};
	$sql .= ';' unless $sql =~ /;\s*$/;
	${ $s->{in} } .= "$sql\nSELECT '$marker';\n";
	eval { $s->{h}->pump until ${ $s->{out} } =~ /^$marker$/m; 1 }
	  or die "psql session: $@ after: ${ $s->{out} }";
	my ($result) = ${ $s->{out} } =~ /(.*)^$marker$/ms;
	${ $s->{out} } = '';
	$result =~ s/\n$// if defined $result;
	return $result;
}

awl_reset_mock($node);

# ---------------------------------------------------------------------------
# 1. Pause: queued invocations of matching functions stay queued, others are
#    sent; the pause survives a restart; a resume sends each once.
# ---------------------------------------------------------------------------
is(as_role('alice', q{SELECT awslambda_pause('lambdaT*')}), 't', 'alice pauses lambdaT*');
is(as_role('alice', q{SELECT awslambda_pause('lambdaT*')}), 'f', 'pausing it again changes nothing');
like(error_of('alice', q{SELECT awslambda_pause('a, b')}), qr/invalid function pattern/,
	'a list is not a pattern');
as_role('alice', q{SELECT count(awslambda_fn_async('lambdaTest', json_build_object('paused', g)::text)) FROM generate_series(1, 5) g});
as_role('alice', q{SELECT awslambda_fn_async('lambdaEcho', '{"echo": 1}')});
ok(poll(q{SELECT count(*) = 1 FROM awslambda_invocations WHERE function_name = 'lambdaEcho' AND status = 'sent'}),
	'an invocation of another function queued after them is sent');
is($node->safe_psql('app', q{SELECT count(*) FROM awslambda_invocations WHERE function_name = 'lambdaTest' AND status = 'queued'}),
	'5', 'the paused ones stay queued');
is(as_role('alice', q{SELECT queued, due_now, sending, paused, failed, oldest_queued_age > '0'::interval, next_due_at IS NULL
	FROM awslambda_queue_stats WHERE function_name = 'lambdaTest'}),
	'5|0|0|5|0|t|t', 'awslambda_queue_stats: 5 queued, all paused, none due');
is(as_role('alice', q{SELECT function_pattern || ' ' || paused_by FROM awslambda_paused()}), 'lambdaT* alice',
	'awslambda_paused() lists the pattern');
is(as_role('bob', q{SELECT count(*) FROM awslambda_paused()}), '0', 'bob does not see alice\'s pause');
is(as_role('bob', q{SELECT count(*) FROM awslambda_queue_stats}), '0', 'nor her rows in awslambda_queue_stats');

$node->restart;
as_role('alice', q{SELECT awslambda_fn_async('lambdaEcho', '{"echo": 2}')});
ok(poll(q{SELECT count(*) = 2 FROM awslambda_invocations WHERE function_name = 'lambdaEcho' AND status = 'sent'}),
	'after a restart, other functions are sent');
is($node->safe_psql('app', q{SELECT count(*) FROM awslambda_invocations WHERE function_name = 'lambdaTest' AND status = 'queued'}),
	'5', 'the paused ones are still queued after the restart');
is(arrived('lambdaTest', 'paused'), 0, 'and none reached Lambda');

is(as_role('bob', q{SELECT awslambda_resume('lambdaT*')}), 'f', 'bob cannot resume alice\'s pause');
is(as_role('alice', q{SELECT awslambda_resume('lambdaT*')}), 't', 'alice resumes');
ok(poll(q{SELECT count(*) = 5 FROM awslambda_invocations WHERE function_name = 'lambdaTest' AND status = 'sent'}),
	'the resumed invocations are sent');
is(arrived('lambdaTest', 'paused'), 5, 'each once');
is(as_role('alice', q{SELECT count(*) FROM awslambda_paused()}), '0', 'nothing is paused any more');

# A pause applies to the invocations of its role only.
is(as_role('bob', q{SELECT awslambda_pause('lambdaEcho')}), 't', 'bob pauses lambdaEcho');
my $bobs = as_role('bob', q{SELECT awslambda_fn_async('lambdaEcho', '{"iso": "bob"}')});
my $alices = as_role('alice', q{SELECT awslambda_fn_async('lambdaEcho', '{"iso": "alice"}')});
ok(poll("SELECT status = 'sent' FROM awslambda_invocations WHERE id = '$alices'"),
	'alice\'s invocation of the function bob paused is sent');
is(status_of($bobs), 'queued', 'bob\'s stays queued');
is(as_role('bob', q{SELECT awslambda_resume('lambdaEcho')}), 't', 'bob resumes');
ok(poll("SELECT status = 'sent' FROM awslambda_invocations WHERE id = '$bobs'"), 'and his is sent');

# ---------------------------------------------------------------------------
# 2. Cancel: a queued invocation is never sent; one already sent cannot be
#    cancelled; a cancel rolled back leaves it to be sent.
# ---------------------------------------------------------------------------
as_role('alice', q{SELECT awslambda_pause('lambdaTest')});
my ($c1, $c2, $c3) = split /\n/, as_role('alice',
	q{SELECT awslambda_fn_async('lambdaTest', json_build_object('cancel', g)::text) FROM generate_series(1, 3) g});
is(as_role('bob', "SELECT awslambda_cancel('$c1')"), 'f', 'bob cannot cancel alice\'s invocation');
is(as_role('bob', "SELECT count(*) FROM awslambda_invocations WHERE id IN ('$c1', '$c2', '$c3')"), '0',
	'nor see it');
is(as_role('alice', "SELECT awslambda_cancel('$c1')"), 't', 'alice cancels one');
is(as_role('alice', "SELECT awslambda_cancel('$c1')"), 'f', 'a second cancel finds nothing to cancel');
is($node->safe_psql('app', "SELECT status || ' ' || (finished_at IS NOT NULL) FROM ONLY awslambda_invocations WHERE id = '$c1'"),
	'cancelled true', 'it is finished as cancelled');

my $s = session('alice');
is(run_in($s, "BEGIN; SELECT awslambda_cancel('$c2')"), 't', 'a cancel in an open transaction');
is(as_role('alice', q{SELECT awslambda_resume('lambdaTest')}), 't', 'then a resume');
my $after = as_role('alice', q{SELECT awslambda_fn_async('lambdaTest', '{"cancel": "after"}')});
ok(poll("SELECT count(*) = 2 FROM awslambda_invocations WHERE id IN ('$c3', '$after') AND status = 'sent'"),
	'the dispatcher sent what was not locked');
is(status_of($c2), 'queued', 'the row the open cancel locked was not claimed');
run_in($s, 'ROLLBACK');
ok(poll("SELECT status = 'sent' FROM awslambda_invocations WHERE id = '$c2'"),
	'the cancel rolled back: the invocation is sent');
is(as_role('alice', "SELECT awslambda_cancel('$c3')"), 'f', 'an invocation already sent cannot be cancelled');
is(arrived('lambdaTest', 'cancel'), 3, 'Lambda received three of them');
is(arrived('lambdaTest', 'cancel', 1), 0, 'not the cancelled one');
is(arrived('lambdaTest', 'cancel', 2), 1, 'the one whose cancel was rolled back once');

like(error_of('alice', q{BEGIN; SELECT awslambda_cancel(gen_random_uuid()); PREPARE TRANSACTION 'c'}),
	qr/cannot PREPARE a transaction that has retried, cancelled or resumed/, 'no cancel in a prepared transaction');

# A cancel racing the dispatcher's claim, row by row: each invocation is
# either cancelled (and never sent) or sent, never both.
my $n_cancelled = as_role('alice', q{
	SELECT count(awslambda_fn_async('lambdaTest', json_build_object('race', g)::text)) FROM generate_series(1, 300) g;
	SELECT count(*) FILTER (WHERE awslambda_cancel(id)) FROM awslambda_invocations WHERE payload LIKE '%"race"%';});
$n_cancelled = (split /\n/, $n_cancelled)[1];
ok(awl_wait_finished($node, 'app'), 'the race is over');
is($node->safe_psql('app', q{SELECT count(*) FROM awslambda_invocations WHERE payload LIKE '%"race"%' AND status = 'cancelled'}),
	$n_cancelled, "$n_cancelled rows cancelled, as the cancels said");
my $race = awl_accepted($node, 'lambdaTest', 1);
my %arrived = map { $_ => 1 } grep { /"race"/ } @{ $race->{payloads} };
is(scalar(grep { /"race"/ } @{ $race->{payloads} }), 300 - $n_cancelled, 'the others reached Lambda');
is(scalar(keys %arrived), 300 - $n_cancelled, 'each once');
my @cancelled_payloads = split /\n/, $node->safe_psql('app',
	q{SELECT payload FROM awslambda_invocations WHERE payload LIKE '%"race"%' AND status = 'cancelled'});
is(scalar(grep { $arrived{$_} } @cancelled_payloads), 0, 'no cancelled one reached Lambda');

# ---------------------------------------------------------------------------
# 3. Retry: a failed invocation is queued again and sent once more; attempts
#    start over, its last error stays until the next outcome.
# ---------------------------------------------------------------------------
my ($r1, $r2) = split /\n/, as_role('alice', q{
	SET awslambda.async_mode = request_response;
	SELECT awslambda_fn_async('lambdaError', json_build_object('retry', g)::text) FROM generate_series(1, 2) g});
ok(poll("SELECT count(*) = 2 FROM awslambda_invocations WHERE id IN ('$r1', '$r2') AND status = 'failed'"),
	'two invocations failed');
is(as_role('alice', q{SELECT failed FROM awslambda_queue_stats WHERE function_name = 'lambdaError'}), '2',
	'awslambda_queue_stats counts them');
is(as_role('bob', "SELECT awslambda_retry('$r1')"), 'f', 'bob cannot retry alice\'s invocation');
is(as_role('bob', q{SELECT awslambda_retry_failed()}), '0', 'nor retry_failed() them');
as_role('alice', q{SELECT awslambda_pause('lambdaError')});
is(as_role('alice', "SELECT awslambda_retry('$r1')"), 't', 'alice retries one');
is($node->safe_psql('app', "SELECT status, attempts, function_error IS NOT NULL, finished_at IS NULL
	FROM awslambda_invocations_pending WHERE id = '$r1'"),
	'queued|0|t|t', 'it is queued again in the pending table, attempts from 0, its error kept');
is(as_role('alice', "SELECT awslambda_retry('$r1')"), 'f', 'a queued invocation is not retried');
as_role('alice', q{SELECT awslambda_resume('lambdaError')});
ok(poll("SELECT status = 'failed' AND attempts = 1 FROM awslambda_invocations WHERE id = '$r1'"),
	'sent again, it failed again after one attempt');

$node->safe_psql('app', q{ALTER ROLE alice SET awslambda.allowed_functions = 'lambdaTest'});
like(error_of('alice', "SELECT awslambda_retry('$r1')"), qr/permission denied to invoke Lambda function "lambdaError"/,
	'a function awslambda.allowed_functions no longer allows is not retried');
like(error_of('alice', q{SELECT awslambda_retry_failed('lambda*')}), qr/permission denied to invoke Lambda function/,
	'nor by retry_failed()');
$node->safe_psql('app', q{ALTER ROLE alice RESET awslambda.allowed_functions});
is(as_role('alice', q{SELECT awslambda_retry_failed('lambdaE*', now() + interval '1 hour')}), '0',
	'retry_failed() with a later since finds none');
is(as_role('alice', q{SELECT awslambda_retry_failed('lambdaE*')}), '2', 'retry_failed() queues both again');
ok(poll("SELECT count(*) = 2 FROM awslambda_invocations WHERE id IN ('$r1', '$r2') AND status = 'failed' AND attempts = 1"),
	'both failed again');
is(arrived('lambdaError', 'retry', 1), 3, 'Lambda received the first three times');
is(arrived('lambdaError', 'retry', 2), 2, 'and the second twice');

# ---------------------------------------------------------------------------
# 4. Privileges: PUBLIC may execute none of the controls.
# ---------------------------------------------------------------------------
is($node->safe_psql('app', q{SELECT count(*) FILTER (WHERE has_function_privilege('carol', p.oid, 'EXECUTE')) || '/' || count(*)
	FROM pg_proc p WHERE p.proname IN ('awslambda_retry', 'awslambda_retry_failed', 'awslambda_cancel',
	                                   'awslambda_pause', 'awslambda_resume', 'awslambda_paused')}),
	'0/6', 'a role without grants may execute none of the six controls');
for my $call ("awslambda_retry('$r1')", 'awslambda_retry_failed()', "awslambda_cancel('$r1')",
	q{awslambda_pause('x')}, q{awslambda_resume('x')}, 'awslambda_paused()')
{
	like(error_of('carol', "SELECT $call"), qr/permission denied for function/, "carol: $call refused");
}
is(as_role('carol', q{SELECT count(*) FROM awslambda_queue_stats}), '0', 'carol sees no queue statistics');
is(as_role('bob', q{SELECT string_agg(function_name, ',') FROM awslambda_queue_stats}), '',
	'bob sees none of alice\'s functions in awslambda_queue_stats');

# ---------------------------------------------------------------------------
# 5. awslambda_queue_stats over many finished rows: failed ones counted by
#    index, the finished table never read whole.
# ---------------------------------------------------------------------------
$node->safe_psql('app', q{
	INSERT INTO awslambda_invocations (id, function_name, region, invocation_type, payload, invoked_by,
	                                   status, attempts, finished_at)
	SELECT gen_random_uuid(), 'lambdaBig', 'us-east-1', 'Event', '{}', 'alice'::regrole,
	       CASE WHEN g % 100 = 0 THEN 'failed' ELSE 'sent' END, 1, now()
	  FROM generate_series(1, 200000) g;
	VACUUM ANALYZE awslambda_invocations;});
my $plan = as_role('alice', q{EXPLAIN SELECT * FROM awslambda_queue_stats});
unlike($plan, qr/Seq Scan on awslambda_invocations\s/, 'the plan reads no finished table whole')
  or diag($plan);
is(as_role('alice', q{SELECT failed FROM awslambda_queue_stats WHERE function_name = 'lambdaBig'}), '2000',
	'2,000 failed of 200,000 finished rows');
my $timing = as_role('alice', q{EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON) SELECT * FROM awslambda_queue_stats});
my ($ms) = $timing =~ /Execution Time: ([0-9.]+) ms/;
note("awslambda_queue_stats with 200,000 finished rows: $ms ms");

# ---------------------------------------------------------------------------
# 6. Failed invocations outlive awslambda.async_retention until
#    awslambda.async_failed_retention.
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', q{ALTER SYSTEM SET awslambda.async_retention = '1s'; SELECT pg_reload_conf()});
ok(poll(q{SELECT count(*) = 0 FROM awslambda_invocations WHERE status IN ('sent', 'cancelled')}),
	'finished rows go after awslambda.async_retention');
is($node->safe_psql('app', q{SELECT count(*) FROM awslambda_invocations WHERE status = 'failed'}), '2002',
	'failed ones stay');
$node->safe_psql('postgres', q{ALTER SYSTEM SET awslambda.async_failed_retention = '1s'; SELECT pg_reload_conf()});
ok(poll(q{SELECT count(*) = 0 FROM awslambda_invocations WHERE status = 'failed'}),
	'until awslambda.async_failed_retention');
$node->safe_psql('postgres', q{ALTER SYSTEM RESET ALL; SELECT pg_reload_conf()});

$node->stop;
done_testing();
