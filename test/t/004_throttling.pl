# A burst of 10,000 invocations against a function throttled at a fixed rate:
# every one succeeds eventually, none is lost, none is sent twice, and the
# attempts recorded add up to what the mock refused.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use AwlTap;
use Test::More;

my $node = awl_node('throttling', 'awslambda.async_max_attempts' => 30);
# Well below what the dispatcher sends even on a busy 2-core machine (about
# 800/s seen there), so that the mock surely throttles.
awl_reset_mock($node, throttle_per_second => 300);

my $t0 = time;
$node->safe_psql('postgres', q{
	SELECT count(awslambda_fn_async('lambdaTest', json_build_object('burst', g)::text))
	  FROM generate_series(1, 10000) g;
});
ok(awl_wait_finished($node), '10,000 throttled invocations finished');
my $elapsed = time - $t0;
my $got = awl_accepted($node, 'lambdaTest');
awl_reset_mock($node, throttle_per_second => 0);

is($node->safe_psql('postgres', 'SELECT status || \' \' || count(*) FROM awslambda_invocations GROUP BY status'),
	'sent 10000', 'all 10,000 sent (accepted by Lambda)');
is($got->{count}, 10000, 'Lambda accepted 10,000 invocations');
is($got->{distinct_payloads}, 10000, 'each payload exactly once: none lost, none twice');
cmp_ok($got->{throttled}, '>', 0, 'the mock throttled some');
is($node->safe_psql('postgres', 'SELECT sum(attempts) - count(*) FROM awslambda_invocations'),
	$got->{throttled}, 'extra attempts recorded = throttled replies');
my $max = $node->safe_psql('postgres', 'SELECT max(attempts) FROM awslambda_invocations');
note("throttled replies: $got->{throttled}, most attempts of one invocation: $max, about $elapsed s");

$node->stop;
done_testing();
