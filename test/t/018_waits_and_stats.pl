# What an operator sees with the library preloaded: each wait of ours under
# its own wait event in pg_stat_activity (named from PostgreSQL 17 on, the
# generic "Extension" before), and awslambda_stat_functions counting the
# whole server (several sessions and the dispatcher) up to
# awslambda.stat_max_functions rows, then in the overflow rows.
use strict;
use warnings;
use File::Spec;
use FindBin;
use lib $FindBin::Bin;
use AwlTap;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

# Credentials from a credential_process helper that takes 3 s while a flag
# file exists, so that a session can be seen waiting for them.
# Absolute: from 17 on tempdir() is relative to the test's directory.
my $dir = File::Spec->rel2abs(PostgreSQL::Test::Utils::tempdir());
my $flag = "$dir/slow";
open(my $fh, '>', "$dir/config") or die "$dir/config: $!";
print $fh <<"INI";
[default]
region = us-east-1
credential_process = /bin/sh -c 'if [ -e $flag ]; then sleep 3; fi; printf "{\\"Version\\": 1, \\"AccessKeyId\\": \\"AKIDMOCKENV\\", \\"SecretAccessKey\\": \\"mock-env-secret-key\\"}"'
INI
close($fh);
delete $ENV{AWS_ACCESS_KEY_ID};
delete $ENV{AWS_SECRET_ACCESS_KEY};
$ENV{AWS_CONFIG_FILE} = "$dir/config";

my $node = awl_node('waits', 'awslambda.stat_max_functions' => '10');
awl_reset_mock($node);
$node->safe_psql('postgres', 'SELECT awslambda_stat_reset()');

# "Extension:AwsLambdaHttp" from 17 on, "Extension:Extension" before.
my $named = $node->pg_version >= 17;
sub event { return 'Extension:' . ($named ? $_[0] : 'Extension'); }

sub wait_of
{
	my ($where, $expected, $what) = @_;
	ok( $node->poll_query_until('postgres',
			"SELECT wait_event_type || ':' || wait_event FROM pg_stat_activity WHERE $where",
			$expected),
		"$what: $expected");
}

# Runs sql in a session of its own (application_name waiter) until finish.
sub in_background
{
	my ($sql) = @_;
	my ($in, $out) = ('', '');
	return IPC::Run::start(
		[ 'psql', '-X', '-At', '-d', $node->connstr('postgres') . ' application_name=waiter', '-c', $sql ],
		'<', \$in, '>', \$out, '2>&1');
}

my $waiter = "application_name = 'waiter'";
my $dispatcher = "backend_type = 'awslambda dispatcher'";

# Between rounds the launcher and the dispatcher are idle.
wait_of("backend_type = 'awslambda launcher'", event('AwsLambdaDispatcherIdle'), 'the launcher between rounds');
wait_of($dispatcher, event('AwsLambdaDispatcherIdle'), 'the dispatcher with nothing to send');

# A session waiting for its credentials (the helper is running).
open($fh, '>', $flag) or die "$flag: $!";
close($fh);
my $h = in_background(q{SELECT awslambda_fn('lambdaTest', '{"waits": "credentials"}')});
wait_of($waiter, event('AwsLambdaCredentials'), 'a session running credential_process');
$h->finish;
unlink($flag);

# A session waiting for Lambda's reply.
$h = in_background(q{SELECT awslambda_fn('lambdaSleep', '{"seconds": 3}')});
wait_of($waiter, event('AwsLambdaHttp'), 'a session waiting for Lambda');
$h->finish;

# A session waiting before a retry (Retry-After: 4).
$h = in_background(q{SELECT awslambda_fn('mockStatus', '{"waits": "backoff", "times": 1, "status": 429, "code": "TooManyRequestsException", "headers": {"Retry-After": "4"}}')});
wait_of($waiter, event('AwsLambdaRetryBackoff'), 'a session in a retry backoff');
$h->finish;

# The dispatcher with an invocation in flight.
$node->safe_psql('postgres', q{SELECT awslambda_invoke_async('lambdaSleep', '{"seconds": 3}', 'RequestResponse')});
wait_of($dispatcher, event('AwsLambdaDispatcherSending'), 'the dispatcher sending');
ok(awl_wait_finished($node), 'the invocation finished');
wait_of($dispatcher, event('AwsLambdaDispatcherIdle'), 'the dispatcher idle again');

SKIP:
{
	skip 'pg_wait_events lists named wait events from PostgreSQL 17 on', 1 unless $named;
	is($node->safe_psql('postgres', q{
		SELECT string_agg(name, ',' ORDER BY name) FROM pg_wait_events
		 WHERE type = 'Extension' AND name LIKE 'AwsLambda%'}),
		'AwsLambdaCredentials,AwsLambdaDispatcherIdle,AwsLambdaDispatcherSending,AwsLambdaHttp,AwsLambdaRetryBackoff',
		'pg_wait_events lists the five');
}

# Every session's calls and the dispatcher's are in one view.
is($node->safe_psql('postgres', q{
	SELECT string_agg(concat_ws(' ', function_name, kind, calls, succeeded, throttled, retries,
	                            (max_time_ms >= 3000)::text), E'\n' ORDER BY function_name, kind)
	  FROM awslambda_stat_functions WHERE function_name <> 'mockAccepted'}),
	join("\n",
		'lambdaSleep async 1 1 0 0 true',
		'lambdaSleep sync 1 1 0 0 true',
		'lambdaTest sync 1 1 0 0 false',
		'mockStatus sync 2 1 1 1 false'),
	'the sessions\' and the dispatcher\'s calls, counted apart');

# Ten rows at most: the calls of functions beyond them are counted in the
# overflow row of their kind.
$node->safe_psql('postgres', 'SELECT awslambda_stat_reset()');
$node->safe_psql('postgres', q{
	DO $$
	BEGIN
	    FOR g IN 1 .. 12 LOOP
	        BEGIN
	            PERFORM awslambda_fn('statsMissing' || g, '{}');
	        EXCEPTION WHEN undefined_function THEN
	            NULL;
	        END;
	    END LOOP;
	END $$});
$node->safe_psql('postgres', q{SELECT awslambda_fn_async('lambdaEcho', '{"overflow": true}')});
ok(awl_wait_finished($node), 'the overflowing invocation finished');
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE function_name IS NOT NULL) || ' rows; overflow: '
	       || string_agg(kind || ' ' || calls, ', ' ORDER BY kind) FILTER (WHERE function_name IS NULL)
	  FROM awslambda_stat_functions}),
	'10 rows; overflow: async 1, sync 2', 'ten rows, and the overflow rows');
is($node->safe_psql('postgres', q{SELECT count(*) FROM awslambda_stat_functions WHERE region IS NULL}),
	'2', 'the overflow rows have no region either');

# A reset from one session makes room for the others.
$node->safe_psql('postgres', 'SELECT awslambda_stat_reset()');
$node->safe_psql('postgres', q{SELECT awslambda_fn_async('lambdaEcho', '{"after": "reset"}')});
ok(awl_wait_finished($node), 'sent after the reset');
is($node->safe_psql('postgres', q{
	SELECT string_agg(coalesce(function_name, '(overflow)') || ' ' || kind || ' ' || calls, ', ')
	  FROM awslambda_stat_functions}),
	'lambdaEcho async 1', 'the dispatcher has a row of its own again');

$node->stop;
done_testing();
