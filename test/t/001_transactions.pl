# Rollback sends nothing; commit sends everything, once; savepoints and
# prepared transactions behave like the rows they wrote.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use AwlTap;
use Test::More;

my $node = awl_node('transactions', max_prepared_transactions => 2);
awl_reset_mock($node);

# Rolled back: the rows vanish with the transaction, nothing reaches Lambda.
$node->safe_psql('postgres', q{
	BEGIN;
	SELECT awslambda_fn_async('lambdaTest', json_build_object('rolled_back', g)::text)
	  FROM generate_series(1, 5) g;
	ROLLBACK;
});
# Savepoints: only what survives the transaction is sent.
$node->safe_psql('postgres', q{
	BEGIN;
	SAVEPOINT a;
	SELECT awslambda_fn_async('lambdaTest', '{"savepoint": "rolled back"}');
	ROLLBACK TO a;
	SELECT awslambda_fn_async('lambdaTest', '{"savepoint": "kept"}');
	COMMIT;
});
ok(awl_wait_finished($node), 'committed invocation finished');
my $got = awl_accepted($node, 'lambdaTest', 1);
is_deeply($got->{payloads}, ['{"savepoint": "kept"}'],
	'only the committed invocation reached Lambda');
is($node->safe_psql('postgres', 'SELECT count(*) FROM awslambda_invocations'), '1',
	'no row left of the rolled-back invocations');

# A prepared transaction is sent after COMMIT PREPARED (found by the
# dispatcher's periodic look, as no backend commits it locally), never after
# ROLLBACK PREPARED.
$node->safe_psql('postgres', q{
	BEGIN;
	SELECT awslambda_fn_async('lambdaTest', '{"prepared": "rolled back"}');
	PREPARE TRANSACTION 'p1';
	BEGIN;
	SELECT awslambda_fn_async('lambdaTest', '{"prepared": "committed"}');
	PREPARE TRANSACTION 'p2';
	ROLLBACK PREPARED 'p1';
	COMMIT PREPARED 'p2';
});
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM awslambda_invocations WHERE payload = '{"prepared": "committed"}' AND status = 'sent'}),
	'committed prepared transaction sent');
$got = awl_accepted($node, 'lambdaTest', 1);
is_deeply([ sort @{ $got->{payloads} } ],
	[ '{"prepared": "committed"}', '{"savepoint": "kept"}' ],
	'rolled-back prepared transaction sent nothing');

# Nothing rolled back comes back after a restart either.
$node->restart;
$node->safe_psql('postgres', q{SELECT awslambda_fn_async('lambdaTest', '{"after": "restart"}')});
ok(awl_wait_finished($node), 'invocation after restart finished');
is(awl_accepted($node, 'lambdaTest')->{count}, 3, 'still only the committed invocations, each once');

# Commit to send: how long from COMMIT to the dispatcher's claim (a
# measurement for the record; the benchmark reports it too).
my @ms;
for my $i (1 .. 20)
{
	my $t0 = $node->safe_psql('postgres', qq{
		BEGIN;
		SELECT awslambda_fn_async('lambdaTest', '{"latency": $i}') \\gset
		SELECT clock_timestamp();
		COMMIT;
	});
	$node->poll_query_until('postgres',
		qq{SELECT count(*) = 1 FROM awslambda_invocations WHERE payload = '{"latency": $i}' AND status = 'sent'});
	push @ms, $node->safe_psql('postgres', qq{
		SELECT round(extract(epoch FROM last_attempt_at - '$t0'::timestamptz) * 1000, 2)
		  FROM awslambda_invocations WHERE payload = '{"latency": $i}'});
}
@ms = sort { $a <=> $b } @ms;
note("commit to claim: median $ms[10] ms, max $ms[19] ms over 20 commits");
ok(scalar(@ms) == 20, 'latency measured');

$node->stop;
done_testing();
