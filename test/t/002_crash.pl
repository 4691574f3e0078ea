# Crash safety: invocations queued, and in flight, when the server stops with
# -m immediate are all delivered after the restart (at least once, same id).
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use AwlTap;
use Test::More;

my $node = awl_node('crash');
awl_reset_mock($node);

# 3,000 invocations committed, then an immediate stop while they drain.
$node->safe_psql('postgres', q{
	SELECT count(awslambda_fn_async('lambdaTest', json_build_object('n', g)::text))
	  FROM generate_series(1, 3000) g;
});
$node->stop('immediate');
$node->start;
ok(awl_wait_finished($node), 'queue drained after the restart');
is($node->safe_psql('postgres', q{SELECT status || ' ' || count(*) FROM awslambda_invocations GROUP BY status}),
	'sent 3000', 'every committed invocation sent');
my $got = awl_accepted($node, 'lambdaTest');
is($got->{distinct_payloads}, 3000, 'each of the 3,000 payloads reached Lambda');
note('arrivals: ' . $got->{count} . ' (' . ($got->{count} - 3000) . ' sent again after the crash)');
cmp_ok($got->{count}, '>=', 3000, 'nothing lost');

# An invocation in flight (a slow function, background RequestResponse) when
# the server stops: sent again after the restart, with the same invocation id.
awl_reset_mock($node);
my $id = $node->safe_psql('postgres', q{
	SELECT awslambda_invoke_async('lambdaSleep', '{"seconds": 2}', 'RequestResponse')});
ok($node->poll_query_until('postgres',
		"SELECT status = 'sending' FROM awslambda_invocations WHERE id = '$id'"),
	'invocation in flight');
$node->stop('immediate');
$node->start;
ok(awl_wait_finished($node), 'in-flight invocation finished after the restart');
is($node->safe_psql('postgres', "SELECT status || ' ' || attempts FROM awslambda_invocations WHERE id = '$id'"),
	'succeeded 2', 'sent again and succeeded, second attempt recorded');
ok($node->log_contains('interrupted invocations queued again'), 'the restart says it re-queued');
ok($node->poll_query_until('postgres',
		q{SELECT (awslambda_fn('mockAccepted', '{"function": "lambdaSleep"}')::jsonb->>'count')::int >= 1}),
	'the mock saw the function');
$got = awl_accepted($node, 'lambdaSleep');
is_deeply($got->{invocation_ids}, [ $id, $id ], 'both sends carried the same invocation id');

$node->stop;
done_testing();
