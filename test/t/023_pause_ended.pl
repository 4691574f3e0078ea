# A pause that stops applying without awslambda_resume: its row deleted by
# the table's owner (noticed at the next claim), or its role no longer a
# member of the role whose invocations it held (REVOKE; noticed when the
# dispatcher looks at its whole queue again, once a minute while any pause
# exists).  The invocations it held are then sent, each once.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use AwlTap;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = awl_node('pause_ended');
$node->safe_psql('postgres', q{
	CREATE ROLE app NOLOGIN;
	CREATE ROLE bob LOGIN;
	GRANT app TO bob;
	GRANT EXECUTE ON FUNCTION awslambda_fn_async(text, text), awslambda_pause(text) TO app, bob;
});
awl_reset_mock($node);

sub queued_of
{
	my ($role) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM awslambda_invocations WHERE status = 'queued' AND invoked_by = '$role'::regrole");
}

# 1. The owner deletes the pause's row.
$node->safe_psql('postgres', q{SELECT awslambda_pause('lambdaTest')}, extra_params => [ '-U', 'bob' ]);
$node->safe_psql('postgres',
	q{SELECT count(awslambda_fn_async('lambdaTest', json_build_object('deleted', g)::text)) FROM generate_series(1, 3) g},
	extra_params => [ '-U', 'bob' ]);
sleep 3;
is(queued_of('bob'), 3, 'paused: held');
$node->safe_psql('postgres', q{DELETE FROM awslambda_paused_functions});
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM awslambda_invocations WHERE status = 'queued' AND invoked_by = 'bob'::regrole}),
	'the pause\'s row deleted: what it held is sent');

# 2. bob's pause holds app's invocations (bob is a member of app); then bob
#    leaves app.  Another pause stays, so the dispatcher keeps reading pauses.
$node->safe_psql('postgres', q{SELECT awslambda_pause('lambdaEcho'); SELECT awslambda_pause('zzzOther')},
	extra_params => [ '-U', 'bob' ]);
$node->safe_psql('postgres',
	q{SET ROLE app; SELECT count(awslambda_fn_async('lambdaEcho', json_build_object('revoked', g)::text)) FROM generate_series(1, 3) g},
	extra_params => [ '-U', 'bob' ]);
sleep 3;
is(queued_of('app'), 3, "bob's pause holds app's invocations");
$node->safe_psql('postgres', q{REVOKE app FROM bob});
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM awslambda_invocations WHERE status = 'queued' AND invoked_by = 'app'::regrole}),
	"bob no longer a member of app: app's invocations are sent (within the minute's look)");
sleep 2;
is(awl_accepted($node, 'lambdaTest', 1)->{distinct_payloads}, 3, 'the deleted pause\'s three, once each');
my $echo = awl_accepted($node, 'lambdaEcho', 1);
is("$echo->{count}/$echo->{distinct_payloads}", '3/3', "app's three, once each");
done_testing();
