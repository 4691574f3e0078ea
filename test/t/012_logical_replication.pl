# Logical replication (a FOR ALL TABLES publication, as blue/green upgrades
# use) carries the queue table.  The subscriber's dispatcher does not send
# the replicated rows (the publisher does) nor run their callbacks; once
# the subscription is dropped it sends what is queued there.
use strict;
use warnings;
use File::Spec;
use FindBin;
use lib $FindBin::Bin;
use AwlTap;
use PostgreSQL::Test::Utils;
use Test::More;

my $pub = awl_node('publisher', allows_streaming => 'logical');
my $sub = awl_node('subscriber');
awl_reset_mock($pub);
for my $node ($pub, $sub)
{
	$node->safe_psql('postgres', q{
		CREATE TABLE cb_log (id uuid, at_node text);
		CREATE FUNCTION public.cb(inv awslambda_invocations) RETURNS void LANGUAGE sql
		  AS $$ INSERT INTO public.cb_log VALUES (inv.id, current_setting('cluster_name')) $$;
	});
}
$pub->safe_psql('postgres', 'CREATE PUBLICATION everything FOR ALL TABLES');
my $sub_log_start = -s $sub->logfile;
$sub->safe_psql('postgres',
	"CREATE SUBSCRIPTION blue_green CONNECTION '" . $pub->connstr . " dbname=postgres' PUBLICATION everything");
$pub->wait_for_catchup('blue_green');
# The initial copy of every table done first: a restart in the middle of a
# table's copy left it copying again and again (seen on 15 and 18), and
# wait_for_catchup does not wait for it.
my $synced = q{SELECT count(*) = 0 FROM pg_subscription_rel WHERE srsubstate NOT IN ('r', 's')};
$sub->poll_query_until('postgres', $synced) or die 'the subscription\'s tables were not copied';
# A dispatcher runs in the subscriber's database (as after any restart).
$sub->restart;
ok($sub->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'awslambda dispatcher' AND datname = 'postgres'"),
	'the subscriber\'s database has a dispatcher');
ok($sub->poll_query_until('postgres',
		"SELECT pg_read_file('" . File::Spec->rel2abs($sub->logfile) . "', $sub_log_start, 1000000) LIKE '%is replicated from a pub' || 'lisher by a subscription%'"),
	'the subscriber\'s dispatcher says it holds off');

# The publisher cannot reach Lambda for a while: its invocations stay queued
# (retried with backoff) and reach the subscriber as queued rows.
$pub->safe_psql('postgres', q{
	ALTER SYSTEM SET awslambda.endpoint_url = 'http://127.0.0.1:1';
	SELECT pg_reload_conf();
});
sleep(1);
$pub->safe_psql('postgres', q{
	SELECT count(awslambda_invoke_async('lambdaTest', jsonb_build_object('replicated', g),
	                                    callback => CASE WHEN g <= 5 THEN 'public.cb' END))
	  FROM generate_series(1, 20) g;
});
$pub->wait_for_catchup('blue_green');
# A local commit on the subscriber wakes its dispatcher, which looks at the
# whole queue, the replicated rows included.
my $own = $sub->safe_psql('postgres', q{SELECT awslambda_fn_async('lambdaTest', '{"local": "subscriber"}')});
sleep(2);
is(awl_accepted($sub, 'lambdaTest')->{count} // 0, 0,
	'the subscriber sent none of the replicated rows (nor its own while subscribed)');
$pub->safe_psql('postgres', q{
	ALTER SYSTEM RESET awslambda.endpoint_url;
	SELECT pg_reload_conf();
});
ok(awl_wait_finished($pub), 'the publisher sent its invocations');
ok($pub->poll_query_until('postgres', 'SELECT count(*) = 5 FROM cb_log'), 'and ran their callbacks');
$pub->wait_for_catchup('blue_green');
is($sub->safe_psql('postgres', q{SELECT count(*) FROM awslambda_invocations WHERE payload LIKE '%replicated%'}),
	'20', 'the subscriber holds the replicated rows');
sleep(2);    # what the subscriber would send, it sends within this
my $got = awl_accepted($pub, 'lambdaTest', 1);
is($got->{count}, 20, 'each replicated invocation reached Lambda once');
is($got->{distinct_payloads}, 20, 'none twice');
is($pub->safe_psql('postgres', 'SELECT count(*) FROM cb_log'), '5', 'each callback ran once on the publisher');
is($pub->safe_psql('postgres', "SELECT string_agg(DISTINCT at_node, ',') FROM cb_log"), 'publisher',
	'there');

# Switch over: the subscription goes, the former subscriber sends its own.
$sub->safe_psql('postgres', 'DROP SUBSCRIPTION blue_green');
ok($sub->poll_query_until('postgres', "SELECT status = 'sent' FROM awslambda_invocations WHERE id = '$own'"),
	'after the subscription is dropped, the former subscriber sends its own');
$got = awl_accepted($pub, 'lambdaTest', 1);
is($got->{count}, 21, 'and only its own invocation');
is($sub->safe_psql('postgres', "SELECT count(*) FROM cb_log WHERE at_node = 'subscriber'"), '0',
	'no replicated callback ran on the subscriber');

$sub->stop;
$pub->stop;
done_testing();
