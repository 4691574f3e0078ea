# The queue's two parts (0.4.0): unfinished invocations in
# awslambda_invocations_pending, finished ones moved into
# awslambda_invocations.  The dispatcher claims from where its last claim
# ended: whatever order transactions commit in (one that queued long before
# others commits after them, a prepared one, retries between), every
# committed invocation reaches Lambda once.  A role reads its own rows of
# both parts through awslambda_invocations, and nothing else; callbacks run
# once each and cleanup removes every finished row, those whose callbacks
# ran late included.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use AwlTap;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = awl_node('queue', max_prepared_transactions => 2);

# A psql session kept open, and a statement run in it.
sub session
{
	my ($in, $out) = ('', '');
	my $h = IPC::Run::start([ 'psql', '-X', '-qAt', '-d', $node->connstr('postgres') ],
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
	return $result;
}

# ---------------------------------------------------------------------------
# 1. Commit order.  A transaction that queued early and one prepared commit
#    after many others were queued, claimed and sent; the mock throttles, so
#    retries are claimed between fresh invocations.
# ---------------------------------------------------------------------------
awl_reset_mock($node, throttle_per_second => 400);
my $early = session();
run_in($early, q{BEGIN; SELECT count(awslambda_fn_async('lambdaTest', json_build_object('early', g)::text)) FROM generate_series(1, 100) g;});
$node->safe_psql('postgres', q{
	BEGIN;
	SELECT awslambda_fn_async('lambdaTest', '{"prepared": 1}');
	PREPARE TRANSACTION 'late';
});
for my $t (1 .. 20)
{
	$node->safe_psql('postgres',
		"SELECT count(awslambda_fn_async('lambdaTest', json_build_object('t', $t, 'g', g)::text)) FROM generate_series(1, 50) g");
}
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1000 FROM awslambda_invocations WHERE payload LIKE '%"t"%' AND status = 'sent'}),
	'the 1,000 invocations of later transactions were sent first');
run_in($early, q{
	SAVEPOINT s;
	SELECT awslambda_fn_async('lambdaTest', '{"early": "rolled back"}');
	ROLLBACK TO s;
	COMMIT;});
$node->safe_psql('postgres', q{COMMIT PREPARED 'late'});
ok(awl_wait_finished($node), 'then those of the early and the prepared transaction');
my $got = awl_accepted($node, 'lambdaTest', 1);
awl_reset_mock($node, throttle_per_second => 0);
is($got->{count}, 1101, 'Lambda accepted 1,101 invocations');
is($got->{distinct_payloads}, 1101, 'each exactly once');
is(scalar(grep { /"early" ?: ?[0-9]/ } @{ $got->{payloads} }), 100, 'the early transaction\'s 100 among them');
is(scalar(grep { /"prepared"/ } @{ $got->{payloads} }), 1, 'and the prepared transaction\'s');
is(scalar(grep { /rolled back/ } @{ $got->{payloads} }), 0, 'nothing rolled back to a savepoint');
cmp_ok($got->{throttled}, '>', 0, 'some were throttled and retried');
is($node->safe_psql('postgres', 'SELECT sum(attempts) - count(*) FROM awslambda_invocations'),
	$got->{throttled}, 'extra attempts recorded = throttled replies');
is($node->safe_psql('postgres', 'SELECT count(*) FROM ONLY awslambda_invocations_pending'), '0',
	'no row is left in the pending table');
$early->{h}->finish;

# ---------------------------------------------------------------------------
# 2. Row-level security across both parts, for a role that is no superuser.
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', q{
	CREATE ROLE app LOGIN;
	GRANT EXECUTE ON FUNCTION awslambda_fn_async(text, text) TO app;
});
my $app = session();
run_in($app, 'SET ROLE app');
my $app_id = run_in($app, q{BEGIN; SELECT awslambda_fn_async('lambdaTest', '{"by": "app"}');});
chomp $app_id;
is(run_in($app, 'SELECT count(*) || \' \' || min(status) FROM awslambda_invocations'), "1 queued\n",
	'a role sees its own queued row (pending part), and no other role\'s finished ones');
is(run_in($app, "SELECT status FROM awslambda_invocation('$app_id')"), "queued\n",
	'awslambda_invocation() finds it in the pending part');
run_in($app, 'COMMIT');
like(run_in($app, 'SELECT count(*) FROM awslambda_invocations_pending'),
	qr/permission denied for table awslambda_invocations_pending/,
	'the pending table is not readable directly');
ok($node->poll_query_until('postgres', "SELECT status = 'sent' FROM awslambda_invocation('$app_id')"),
	'the role\'s invocation was sent');
is(run_in($app, 'SELECT count(*) || \' \' || min(status) FROM awslambda_invocations'), "1 sent\n",
	'the role sees its finished row (and still only its own)');
my $other = $node->safe_psql('postgres', 'SELECT id FROM awslambda_invocations LIMIT 1');
is(run_in($app, "SELECT count(*) FROM awslambda_invocation('$other') WHERE id IS NOT NULL"), "0\n",
	'awslambda_invocation() of another role\'s invocation: nothing');
$app->{h}->finish;

# ---------------------------------------------------------------------------
# 3. Callbacks and cleanup.  400 callbacks take several rounds (100 a round):
#    cleanup runs between them while many are still to run, and must come
#    back for those rows once their callbacks have run.
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', q{
	CREATE TABLE cb_log (id uuid, at timestamptz DEFAULT clock_timestamp(), seqscan text);
	CREATE FUNCTION cb(inv awslambda_invocations) RETURNS void LANGUAGE sql
	  AS $$ SELECT pg_sleep(0.02); INSERT INTO cb_log (id, seqscan) VALUES (inv.id, current_setting('enable_seqscan')) $$;
	ALTER SYSTEM SET awslambda.async_retention = '1s';
	SELECT pg_reload_conf();
});
$node->poll_query_until('postgres', 'SHOW awslambda.async_retention', '1s');
sleep(1);
$node->safe_psql('postgres', q{
	SELECT count(awslambda_invoke_async('lambdaTest', json_build_object('cb', g)::jsonb, callback => 'cb'))
	  FROM generate_series(1, 400) g;
	SELECT count(awslambda_fn_async('lambdaTest', json_build_object('plain', g)::text))
	  FROM generate_series(1, 100) g;
});
ok($node->poll_query_until('postgres', 'SELECT count(*) = 400 FROM cb_log'), 'all 400 callbacks ran');
is($node->safe_psql('postgres', 'SELECT count(DISTINCT id) FROM cb_log'), '400', 'each once');
is($node->safe_psql('postgres', 'SELECT string_agg(DISTINCT seqscan, \',\') FROM cb_log'), 'on',
	'with the server\'s enable_seqscan (the dispatcher\'s own statements run with it off)');
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM awslambda_invocations'),
	'cleanup removed every finished row, those whose callbacks ran late too');
is($node->safe_psql('postgres', q{SELECT count(*) > 0 FROM cb_log
	WHERE at > (SELECT min(at) FROM cb_log) + interval '1 second'}), 't',
	'(some callbacks ran more than the retention after the first)');

# ---------------------------------------------------------------------------
# 4. A column added to the queue (as a later version's update would): rows
#    are moved with it, as the queue table's row type.
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', 'ALTER TABLE awslambda_invocations ADD COLUMN note text');
my $noted = $node->safe_psql('postgres', q{
	BEGIN;
	SELECT awslambda_fn_async('lambdaTest', '{"noted": 1}') AS id \gset
	UPDATE awslambda_invocations_pending SET note = 'kept' WHERE id = :'id';
	SELECT :'id';
	COMMIT;});
ok($node->poll_query_until('postgres', "SELECT note = 'kept' FROM ONLY awslambda_invocations WHERE id = '$noted'"),
	'the finished row took the added column\'s value along');

$node->stop;
done_testing();
