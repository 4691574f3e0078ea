# A physical standby sends nothing; after promotion the new primary sends
# every committed invocation, once.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use AwlTap;
use PostgreSQL::Test::Utils;
use PostgreSQL::Test::Cluster;
use Test::More;

my $primary = awl_node('primary', allows_streaming => 1);
awl_reset_mock($primary);
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# From now on the primary cannot reach Lambda: what it queues stays queued
# (retried with backoff), and reaches the standby by streaming replication.
$primary->safe_psql('postgres', q{
	ALTER SYSTEM SET awslambda.endpoint_url = 'http://127.0.0.1:1';
	SELECT pg_reload_conf();
});
sleep(1);
$primary->safe_psql('postgres', q{
	SELECT count(awslambda_fn_async('lambdaTest', json_build_object('standby', g)::text))
	  FROM generate_series(1, 30) g;
});
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', q{SELECT count(*) FROM awslambda_invocations WHERE payload LIKE '%standby%'}),
	'30', 'the standby has the queued invocations');
is($standby->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'awslambda%'}),
	'0', 'a standby runs no launcher and no dispatcher');
sleep(1);
is(awl_accepted($standby, 'lambdaTest')->{count} // 0, 0, 'nothing was sent meanwhile');

$primary->stop('immediate');
$standby->promote;
ok(awl_wait_finished($standby), 'after promotion every invocation finished');
my $got = awl_accepted($standby, 'lambdaTest', 1);
is($got->{count}, 30, 'each of the 30 reached Lambda');
is($got->{distinct_payloads}, 30, 'once');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM awslambda_invocations WHERE status = 'sent'}),
	'30', 'all recorded as sent on the new primary');

$standby->stop;
done_testing();
