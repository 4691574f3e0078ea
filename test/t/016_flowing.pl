# Queued invocations keep flowing while some are slow: the dispatcher starts
# new transfers as others finish and records each outcome (and runs its
# callback) as it arrives, instead of waiting for the slowest of a batch.
# A reload while slow ones are in flight finishes them and gives back those
# still waiting for a slot, so that nothing is sent twice.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use AwlTap;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = awl_node('flowing', 'awslambda.max_concurrency' => '2');
awl_reset_mock($node);
$node->safe_psql('postgres', q{
	CREATE TABLE cb_log (id uuid, status text, at timestamptz DEFAULT clock_timestamp());
	CREATE FUNCTION cb(inv awslambda_invocations) RETURNS void LANGUAGE sql
	  AS 'INSERT INTO cb_log (id, status) VALUES (inv.id, inv.status)';
});

# One slow RequestResponse in flight...
my $slow = $node->safe_psql('postgres',
	q{SELECT awslambda_invoke_async('lambdaSleep', '{"seconds": 25, "slow": 1}', 'RequestResponse', callback => 'cb')});
ok($node->poll_query_until('postgres', "SELECT status = 'sending' FROM awslambda_invocations WHERE id = '$slow'"),
	'the slow invocation is in flight');

# ...does not hold back the ones queued after it: Events, and RequestResponse
# calls whose callbacks run while the slow one is still out.
$node->safe_psql('postgres', q{
	SELECT count(awslambda_fn_async('lambdaTest', json_build_object('n', g)::text)) FROM generate_series(1, 20) g;
	SELECT count(awslambda_invoke_async('lambdaTest', json_build_object('rr', g)::jsonb, 'RequestResponse', callback => 'cb'))
	  FROM generate_series(1, 3) g;
});
ok($node->poll_query_until('postgres', qq{
	SELECT count(*) = 23 FROM awslambda_invocations WHERE id <> '$slow' AND finished_at IS NOT NULL}),
	'the invocations queued after it finished');
ok($node->poll_query_until('postgres', qq{SELECT count(*) = 3 FROM cb_log WHERE id <> '$slow'}),
	'their callbacks ran');
is($node->safe_psql('postgres', "SELECT status || ' ' || (finished_at IS NULL) FROM awslambda_invocations WHERE id = '$slow'"),
	'sending true', 'while the slow one was still in flight');
is($node->safe_psql('postgres', "SELECT count(*) FROM cb_log WHERE id = '$slow'"), '0',
	'and its callback had not run');
is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT status, ',') FROM awslambda_invocations WHERE function_name = 'lambdaTest'}),
	'sent,succeeded', 'Events sent, RequestResponse succeeded');

# The slow one ends in its own time, once.
ok($node->poll_query_until('postgres', "SELECT status = 'succeeded' FROM awslambda_invocations WHERE id = '$slow'", 't'),
	'the slow one succeeded later');
ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM cb_log WHERE id = '$slow'"),
	'and its callback ran');
my $acc = awl_accepted($node, 'lambdaTest');
is($acc->{count}, 23, 'each fast invocation reached Lambda once');
is($acc->{distinct_payloads}, 23, 'every one of them');
is(awl_accepted($node, 'lambdaSleep')->{count}, 1, 'the slow one reached Lambda once');

# A reload with both slots taken by slow invocations and more claimed behind
# them: the dispatcher finishes those in flight, gives the waiting ones back
# (not counted as an attempt) and leaves; the next one sends them.
awl_reset_mock($node);
$node->safe_psql('postgres', q{
	SELECT count(awslambda_invoke_async('lambdaSleep', json_build_object('seconds', 6, 'drain', g)::jsonb, 'RequestResponse'))
	  FROM generate_series(1, 2) g});
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 2 FROM awslambda_invocations WHERE function_name = 'lambdaSleep' AND status = 'sending'"),
	'two slow invocations in flight');
$node->safe_psql('postgres', q{
	SELECT count(awslambda_fn_async('lambdaTest', json_build_object('waiting', g)::text)) FROM generate_series(1, 5) g});
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 5 FROM awslambda_invocations WHERE payload LIKE '%waiting%' AND status = 'sending'"),
	'five more claimed behind them');
my $pid = awl_dispatcher_pid($node);
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
ok($node->poll_query_until('postgres', qq{
	SELECT count(*) = 0 FROM awslambda_invocations WHERE finished_at IS NULL}),
	'everything was sent after the reload');
isnt(awl_dispatcher_pid($node), $pid, 'by a new dispatcher');
is($node->safe_psql('postgres', q{
	SELECT string_agg(DISTINCT status || ':' || attempts, ',') FROM awslambda_invocations
	WHERE payload LIKE '%drain%' OR payload LIKE '%waiting%'}),
	'sent:1,succeeded:1', 'each in one attempt');
is(awl_accepted($node, 'lambdaSleep')->{count}, 2, 'the slow ones reached Lambda once each');
is(awl_accepted($node, 'lambdaTest')->{count}, 5, 'the waiting ones once each');
ok($node->log_contains(qr/restarting to apply the reloaded configuration/), 'the reload was applied');

$node->stop;

# Per-function flow control: with lambdaSleep limited to one in flight, its
# invocations go one after the other while the others flow past them.
my $lim = awl_node('limits', 'awslambda.max_concurrency' => '4',
	'awslambda.async_function_limits' => 'lambdaS*=1, other=3');
awl_reset_mock($lim);
$lim->safe_psql('postgres', q{
	SELECT count(awslambda_invoke_async('lambdaSleep', json_build_object('seconds', 2, 'limited', g)::jsonb, 'RequestResponse'))
	  FROM generate_series(1, 3) g;
	SELECT count(awslambda_fn_async('lambdaTest', json_build_object('free', g)::text)) FROM generate_series(1, 10) g;
});
ok(awl_wait_finished($lim), 'everything was sent');
is($lim->safe_psql('postgres', q{
	SELECT count(*) FROM awslambda_invocations a JOIN awslambda_invocations b ON a.id < b.id
	WHERE a.function_name = 'lambdaSleep' AND b.function_name = 'lambdaSleep'
	  AND a.last_attempt_at < b.finished_at AND b.last_attempt_at < a.finished_at}),
	'0', 'no two lambdaSleep invocations were in flight at once');
is($lim->safe_psql('postgres', q{
	SELECT (SELECT max(finished_at) FROM awslambda_invocations WHERE function_name = 'lambdaTest')
	     < (SELECT min(finished_at) FROM awslambda_invocations WHERE function_name = 'lambdaSleep')}),
	't', 'the other function was not held back behind them');
is($lim->safe_psql('postgres', q{SELECT string_agg(DISTINCT status || ':' || attempts, ',') FROM awslambda_invocations}),
	'sent:1,succeeded:1', 'each in one attempt');
my ($rc, $out, $err) = $lim->psql('postgres', q{ALTER SYSTEM SET awslambda.async_function_limits = 'orders-*=0'});
like($err, qr/invalid value for parameter "awslambda.async_function_limits".*\n.*N from 1 to 10000/,
	'a bad limit is refused with a reason');
$lim->stop;
# Micro-batches: up to N queued invocations of one function as one Invoke of
# {"records": [...], "invocation_ids": [...]}, each row's outcome from it.
my $bat = awl_node('batches', 'awslambda.async_batch_sizes' => 'lambdaTest=10, lambdaBatch=100');
awl_reset_mock($bat);
$bat->safe_psql('postgres', q{
	CREATE TABLE cb_log (id uuid, response jsonb);
	CREATE FUNCTION cb(inv awslambda_invocations) RETURNS void LANGUAGE sql
	  AS 'INSERT INTO cb_log VALUES (inv.id, inv.response)';
	SELECT count(awslambda_fn_async('lambdaTest', json_build_object('n', g)::text)) FROM generate_series(1, 45) g;
});
ok(awl_wait_finished($bat), 'a micro-batched burst was sent');
my $calls = awl_accepted($bat, 'lambdaTest', 1);
my (%seen, %ids, $max, $shape);
$shape = 1;
for my $p (@{ $calls->{payloads} })
{
	my $event = JSON::PP::decode_json($p);
	$shape = 0 unless ref $event->{records} eq 'ARRAY' && ref $event->{invocation_ids} eq 'ARRAY'
	  && @{ $event->{records} } == @{ $event->{invocation_ids} };
	$seen{ $_->{n} }++ for @{ $event->{records} };
	$ids{$_}++ for @{ $event->{invocation_ids} };
	my $k = scalar @{ $event->{records} };
	$max = $k if !defined $max || $k > $max;
}
ok($shape, 'every call carried records and their invocation ids');
is(scalar(keys %seen), 45, 'all 45 records arrived');
is(scalar(grep { $_ != 1 } values %seen), 0, 'each exactly once');
ok($max <= 10, "no call carried more than 10 records (largest: $max)");
ok($calls->{count} >= 5 && $calls->{count} < 45, "in few calls ($calls->{count})");
is($bat->safe_psql('postgres', q{
	SELECT count(*) FROM awslambda_invocations WHERE function_name = 'lambdaTest' AND status = 'sent' AND attempts = 1}),
	'45', 'every row is sent, in one attempt');
my $row_ids = $bat->safe_psql('postgres', q{SELECT string_agg(id::text, ',' ORDER BY id) FROM awslambda_invocations WHERE function_name = 'lambdaTest'});
is(join(',', sort keys %ids), $row_ids, 'the invocation ids sent are the rows\' ids');

# RequestResponse: each row gets its own element of the function's results.
$bat->safe_psql('postgres', q{
	SELECT count(awslambda_invoke_async('lambdaBatch', json_build_object('n', g)::jsonb, 'RequestResponse', callback => 'cb'))
	  FROM generate_series(1, 5) g});
ok($bat->poll_query_until('postgres', q{SELECT count(*) = 5 FROM cb_log}), 'the callbacks of a micro-batch ran');
is($bat->safe_psql('postgres', q{
	SELECT count(*) FROM awslambda_invocations i JOIN cb_log c USING (id)
	WHERE i.status = 'succeeded' AND (c.response->>'n')::int = (i.payload::jsonb->>'n')::int
	  AND c.response->>'id' = i.id::text}),
	'5', 'each row has its own result as its response');

# Batches stay within Lambda's 1 MB limit for Event.
awl_reset_mock($bat);
$bat->safe_psql('postgres', q{
	SELECT count(awslambda_fn_async('lambdaTest', json_build_object('n', g, 'pad', repeat('x', 300000))::text))
	  FROM generate_series(1, 7) g});
ok(awl_wait_finished($bat), 'large records were sent');
my $big = awl_accepted($bat, 'lambdaTest', 1);
my ($records, $largest) = (0, 0);
for my $p (@{ $big->{payloads} })
{
	$records += scalar @{ JSON::PP::decode_json($p)->{records} };
	$largest = length($p) if length($p) > $largest;
}
is($records, 7, 'all 7 large records arrived');
ok($largest <= 1048576, "each call within 1 MB (largest $largest bytes, $big->{count} calls)");
is($bat->safe_psql('postgres', q{SELECT count(*) FROM awslambda_invocations WHERE status <> 'sent' AND function_name = 'lambdaTest'}),
	'0', 'and every row is sent');
$bat->stop;

done_testing();
