# The dispatcher's own statements are never JIT-compiled.  Its session has
# enable_seqscan off (so that a plan cached while the pending table was
# small does not read all of it later); before PostgreSQL 18 that adds a
# huge cost to any plan left with a sequential scan, which then passes
# jit_above_cost and is compiled, for many milliseconds, each time it runs
# (the recovery at every start did).  Counted with pg_stat_statements,
# over a start with invocations left 'sending', a burst and retries;
# callbacks keep the server's jit.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use AwlTap;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = awl_node('jit',
	shared_preload_libraries => 'awslambda,pg_stat_statements',
	'pg_stat_statements.track' => 'all',
	jit => 'on');

if ($node->safe_psql('postgres', 'SELECT pg_jit_available()') ne 't')
{
	plan skip_all => 'this server has no JIT provider';
}

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_stat_statements;
	CREATE TABLE cb_log (id uuid, jit text);
	CREATE FUNCTION cb(inv awslambda_invocations) RETURNS void LANGUAGE sql
	  AS $$ INSERT INTO cb_log VALUES (inv.id, current_setting('jit')) $$;
});

# A burst with callbacks, then a restart: a dispatcher that starts re-queues
# what its predecessor left 'sending' (the statement that was compiled at
# every start), then a throttled burst, which is retried.
$node->safe_psql('postgres', q{
	SELECT awslambda_stat_reset();
	SELECT pg_stat_statements_reset();
	SELECT count(awslambda_invoke_async('lambdaTest', json_build_object('g', g)::jsonb, callback => 'cb'))
	  FROM generate_series(1, 50) g;
});
awl_wait_finished($node, 'postgres');
$node->stop;
$node->start;
awl_reset_mock($node, throttle_per_second => 200);
$node->safe_psql('postgres', q{
	SELECT count(awslambda_fn_async('lambdaTest', json_build_object('g', g)::text))
	  FROM generate_series(1, 500) g;
});
awl_wait_finished($node, 'postgres');
awl_reset_mock($node, throttle_per_second => 0);    # the mock is shared with later tests

my $ran = $node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
	 WHERE r.rolsuper AND s.query ~ 'awslambda_invocations' AND s.query ~ '\$1'
	   AND s.query !~ 'pg_stat_statements'});
cmp_ok($ran, '>', 3, "the dispatcher's statements are counted ($ran)");
my $compiled = $node->safe_psql('postgres', q{
	SELECT coalesce(string_agg(left(regexp_replace(s.query, '\s+', ' ', 'g'), 60) || ' (' || s.jit_functions || ')', '; '), '')
	  FROM pg_stat_statements s
	 WHERE s.jit_functions > 0 AND s.query ~ 'awslambda_invocations'});
is($compiled, '', 'none of them was JIT-compiled');
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE status IN ('sent', 'succeeded')) || '/' || count(*) FROM awslambda_invocations}),
	'550/550', 'every invocation was sent');
is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT jit, ',') FROM cb_log}),
	'on', "callbacks run with the server's jit");

done_testing();
