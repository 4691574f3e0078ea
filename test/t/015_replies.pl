# A problem with one reply fails that invocation (or row) and nothing else:
# a character the database encoding cannot hold (a LATIN1 database and a
# function returning "€"), or a \u0000 that jsonb refuses.  Synchronous
# fan-out keeps the other rows; the dispatcher records each outcome once and
# sends nothing twice (arrival counts at the mock).
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use AwlTap;
use Test::More;

my $node = awl_node('replies', 'awslambda.async_max_attempts' => '3');
$node->safe_psql('postgres',
	q{CREATE DATABASE latin ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0});
$node->safe_psql('latin', 'CREATE EXTENSION awslambda');

sub psql_err
{
	my ($db, $sql) = @_;
	my ($out, $err) = ('', '');
	$node->psql($db, "\\set VERBOSITY verbose\n$sql", stdout => \$out, stderr => \$err);
	return ($out, $err);
}

# awslambda_fn is one call: it raises, as PostgreSQL's conversion would.
my ($out, $err) = psql_err('latin', q{SELECT awslambda_fn('lambdaUnicode', '{"reply": "euro"}')});
like($err,
	qr/ERROR:  22P05: character with byte sequence 0xe2 0x82 0xac in encoding "UTF8" has no equivalent in encoding "LATIN1"/,
	'awslambda_fn: a reply LATIN1 cannot hold raises 22P05');
is($node->safe_psql('latin', q{SELECT awslambda_fn('lambdaUnicode', '{"reply": "nul"}')}),
	'{"text": "a\\u0000b"}', 'awslambda_fn: \u0000 is fine in text');

# Fan-out without fail_fast: one row per problem, the others answered.
my $many = q{
	SET client_encoding = 'UTF8';
	SELECT ordinality, coalesce(payload->>'name', payload->'event'->>'reply', payload->>'price'),
	       error_sqlstate, error_message
	  FROM awslambda_invoke_many('lambdaUnicode',
	         ARRAY['{"reply": "plain"}', '{"reply": "euro"}', '{"reply": "euro_escaped"}',
	               '{"reply": "nul"}', '{"reply": "e_acute"}', '{"reply": "plain2"}']::jsonb[])
	 ORDER BY 1};
awl_reset_mock($node);
($out, $err) = psql_err('latin', $many);
is($out, join("\n",
		'1|plain||',
		'2||22P05|character with byte sequence 0xe2 0x82 0xac in encoding "UTF8" has no equivalent in encoding "LATIN1"',
		'3||22P05|Lambda function "lambdaUnicode" returned a response that jsonb cannot hold',
		'4||22P05|Lambda function "lambdaUnicode" returned a response that jsonb cannot hold',
		"5|Ren\x{c3}\x{a9}||",
		'6|plain2||'),
	'LATIN1 fan-out: the euro rows and the \u0000 row fail on their own')
  or diag($err);
is(awl_accepted($node, 'lambdaUnicode')->{count}, 6, 'LATIN1 fan-out: each item sent once');
($out, $err) = psql_err('latin', q{SELECT awslambda_invoke_many('lambdaUnicode', ARRAY['{"reply": "euro"}']::jsonb[], fail_fast => true)});
like($err, qr/ERROR:  22P05: character with byte sequence/, 'fail_fast raises the row\'s error');

awl_reset_mock($node);
($out, $err) = psql_err('postgres', $many);
is($out, join("\n",
		'1|plain||',
		"2|12 \x{e2}\x{82}\x{ac}||",
		"3|12 \x{e2}\x{82}\x{ac}||",
		'4||22P05|Lambda function "lambdaUnicode" returned a response that jsonb cannot hold',
		"5|Ren\x{c3}\x{a9}||",
		'6|plain2||'),
	'UTF8 fan-out: only the \u0000 row fails')
  or diag($err);
($out, $err) = psql_err('postgres',
	q{SELECT error_detail FROM awslambda_invoke_many('lambdaUnicode', ARRAY['{"reply": "nul"}']::jsonb[])});
is($out, '\u0000 at byte 11 of 20 cannot be converted to text.', 'the detail says where');
($out, $err) = psql_err('postgres', q{SELECT * FROM awslambda_invoke('lambdaUnicode', '{"reply": "nul"}')});
like($err, qr/ERROR:  22P05: Lambda function "lambdaUnicode" returned a response that jsonb cannot hold/,
	'awslambda_invoke raises it');

# The dispatcher: one batch with a reply LATIN1 cannot hold and one jsonb
# refuses, among others that succeed; each is sent once and keeps its outcome.
awl_reset_mock($node);
$node->safe_psql('latin', q{
	BEGIN;
	SELECT awslambda_invoke_async('lambdaUnicode', '{"reply": "euro"}', 'RequestResponse');
	SELECT awslambda_invoke_async('lambdaUnicode', '{"reply": "nul"}', 'RequestResponse');
	SELECT awslambda_invoke_async('lambdaUnicode', '{"reply": "plain"}', 'RequestResponse');
	SELECT awslambda_invoke_async('lambdaUnicode', '{"reply": "e_acute"}', 'RequestResponse');
	SELECT awslambda_invoke_async('lambdaUnicode', '{"reply": "event 1"}');
	SELECT awslambda_invoke_async('lambdaUnicode', '{"reply": "event 2"}');
	COMMIT;
});
ok(awl_wait_finished($node, 'latin'), 'queued invocations finished');
is($node->safe_psql('latin', q{
	SELECT payload::jsonb->>'reply', status, attempts, error_sqlstate, response IS NOT NULL
	  FROM awslambda_invocations ORDER BY 1}),
	join("\n",
		'e_acute|succeeded|1||t',
		'euro|failed|1|22P05|f',
		'event 1|sent|1||f',
		'event 2|sent|1||f',
		'nul|failed|1|22P05|f',
		'plain|succeeded|1||t'),
	'each outcome recorded after one attempt');
my $got = awl_accepted($node, 'lambdaUnicode');
is($got->{count}, 6, 'the dispatcher sent each invocation once');
is($got->{distinct_payloads}, 6, 'all six arrived');

done_testing();
