# A dispatcher ended by pg_terminate_backend or a fast shutdown finishes the
# transfers it has in flight (for a few seconds at most) and records them,
# and gives back what was still waiting for a slot: nothing Lambda received
# is sent again by the next dispatcher.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use AwlTap;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = awl_node('stop_in_flight', 'awslambda.max_concurrency' => 4);
awl_reset_mock($node);

# Queues $n invocations of lambdaSleep ($seconds each, RequestResponse) tagged
# $tag, and waits until $in_flight of them have reached the mock.
sub queue_slow
{
	my ($tag, $n, $seconds, $in_flight) = @_;
	my $before = awl_accepted($node, 'lambdaSleep')->{count};
	$node->safe_psql('postgres', qq{
		SELECT count(awslambda_invoke_async('lambdaSleep',
		         json_build_object('seconds', $seconds, 'tag', '$tag', 'n', g)::jsonb, 'RequestResponse'))
		  FROM generate_series(1, $n) g;
	});
	for (1 .. 10 * $PostgreSQL::Test::Utils::timeout_default)
	{
		return 1 if awl_accepted($node, 'lambdaSleep')->{count} >= $before + $in_flight;
		select(undef, undef, undef, 0.1);
	}
	return 0;
}

sub attempts_of
{
	my ($tag) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT string_agg(status || ' ' || attempts, ', ' ORDER BY (payload::jsonb->>'n')::int)
		  FROM awslambda_invocations WHERE payload::jsonb->>'tag' = '$tag'});
}

# 1. pg_terminate_backend: 4 in flight (max_concurrency), 6 claimed and waiting.
ok(queue_slow('terminate', 10, 1.5, 4), 'four invocations in flight');
my $pid = awl_dispatcher_pid($node);
my $log_start = -s $node->logfile;
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'awslambda dispatcher' AND pid <> $pid"),
	'a new dispatcher runs');
ok(awl_wait_finished($node), 'all ten finished');
my $got = awl_accepted($node, 'lambdaSleep');
is($got->{count}, 10, 'each reached the function once');
is($got->{distinct_payloads}, 10, 'no payload twice');
is(attempts_of('terminate'), join(', ', ('succeeded 1') x 10),
	'all succeeded at the first attempt (the waiting ones were given back uncounted)');
like(slurp_file($node->logfile, $log_start),
	qr/awslambda dispatcher: finishing 10 claimed invocations before exiting/,
	'the dispatcher said it finished what it had claimed');
# The locks it took on the queue for that are gone with it.
is($node->safe_psql('postgres', q{
	SET lock_timeout = '5s';
	BEGIN;
	LOCK TABLE awslambda_invocations, awslambda_invocations_pending IN ACCESS EXCLUSIVE MODE;
	COMMIT;
	SELECT 'locked'}), 'locked', 'the exited dispatcher left no lock on the queue');

# 2. A fast shutdown (pg_ctl restart) with invocations in flight.
ok(queue_slow('restart', 4, 1.5, 4), 'four more in flight');
$node->restart;
ok(awl_wait_finished($node), 'finished after the restart');
$got = awl_accepted($node, 'lambdaSleep');
is($got->{count}, 14, 'the four reached the function once each');
is(attempts_of('restart'), join(', ', ('succeeded 1') x 4), 'recorded before the server stopped');

# 3. One that outlasts the grace: the dispatcher exits without it, and the
# next one sends it again (at least once).
$log_start = -s $node->logfile;
ok(queue_slow('slow', 1, 8, 1), 'a slow invocation in flight');
$pid = awl_dispatcher_pid($node);
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'awslambda dispatcher' AND pid <> $pid"),
	'a new dispatcher runs');
ok(awl_wait_finished($node), 'the slow one finished');
is(attempts_of('slow'), 'succeeded 2', 'sent again by the next dispatcher');
like(slurp_file($node->logfile, $log_start),
	qr/1 invocation still in flight is sent again by the next dispatcher/,
	'the dispatcher said it left one in flight');

# 4. A callback that ends the dispatcher (exit_on_error and an error) while
# other invocations are in flight: those are not sent again either.
$node->safe_psql('postgres', q{
	CREATE FUNCTION cb_exit(inv awslambda_invocations) RETURNS void LANGUAGE plpgsql AS $$
	BEGIN PERFORM set_config('exit_on_error', 'on', true); RAISE EXCEPTION 'boom'; END $$;
});
$log_start = -s $node->logfile;
my $arrived = awl_accepted($node, 'lambdaSleep')->{count};
ok(queue_slow('callback', 3, 2, 3), 'three in flight');
my $exiting = $node->safe_psql('postgres',
	q{SELECT awslambda_invoke_async('lambdaTest', '{"then": "exit"}', callback => 'cb_exit')});
ok($node->poll_query_until('postgres',
		"SELECT callback_done_at IS NOT NULL FROM awslambda_invocations WHERE id = '$exiting'"),
	'the callback was given up after it ended dispatchers');
ok(awl_wait_finished($node), 'the three finished');
is(attempts_of('callback'), join(', ', ('succeeded 1') x 3), 'each at its first attempt');
is(awl_accepted($node, 'lambdaSleep')->{count}, $arrived + 3, 'and each reached the function once');
like(slurp_file($node->logfile, $log_start),
	qr/awslambda dispatcher: finishing 3 claimed invocations before exiting/,
	'the dispatcher the callback ended finished them first');

$node->stop;
done_testing();
